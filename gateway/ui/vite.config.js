import { defineConfig } from "vite";

// Preact through esbuild's automatic JSX runtime: no extra plugin needed.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, target: "es2020" },
  server: { proxy: { "/api": "http://127.0.0.1:8080", "/auth": "http://127.0.0.1:8080" } },
});
