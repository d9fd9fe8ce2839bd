// Builds dist/footfall.js (core, ≤15 KB gzip), dist/footfall-replay.js (rrweb, lazily loaded) and
// dist/snippet.min.js, then prints each file's gzip size.
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { gzipSync } from "node:zlib";

const common = { bundle: true, minify: true, format: "iife", target: ["es2019"], legalComments: "none" };
mkdirSync("dist", { recursive: true });
await build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/footfall.js" });
await build({ ...common, entryPoints: ["src/replay.ts"], outfile: "dist/footfall-replay.js" });
await build({ ...common, bundle: false, entryPoints: ["src/snippet.js"], outfile: "dist/snippet.min.js" });

for (const file of ["footfall.js", "footfall-replay.js", "snippet.min.js"]) {
  const bytes = readFileSync(`dist/${file}`);
  console.log(`${file.padEnd(20)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KB  ${(gzipSync(bytes).length / 1024).toFixed(1).padStart(6)} KB gzip`);
}
const core = gzipSync(readFileSync("dist/footfall.js")).length;
writeFileSync("dist/sizes.json", JSON.stringify({ core_gzip_bytes: core }) + "\n");
if (core > 15 * 1024) {
  console.error(`core bundle is ${core} bytes gzip, over the 15 KB budget`);
  process.exit(1);
}
