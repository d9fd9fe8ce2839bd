// ESLint for the web UI (Preact, JSX) and the browser SDK (TypeScript), run from the repository
// root by `make lint` (mk/lint.mk). It has its own TypeScript: typescript-eslint does not read the
// SDK's newer one. Rules: ESLint's and typescript-eslint's recommended sets, and the rules of
// hooks (Preact's hooks follow React's).
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**"] },
  {

    files: ["gateway/ui/src/**/*.{js,jsx}"],
    extends: [js.configs.recommended],
    plugins: { "react-hooks": reactHooks },
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
      parserOptions: { ecmaFeatures: { jsx: true } },
    },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "off", // effects list their keys on purpose (e.g. a JSON string)
    },
  },
  {

    files: ["sdk/js/src/**/*.ts", "sdk/js/test/**/*.ts"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { globals: globals.browser },
  },
  {
    // Test doubles stand in for DOM and fetch objects whose full types would only add noise.
    files: ["sdk/js/test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {

    files: ["sdk/js/src/snippet.js"],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  {

    files: ["sdk/js/build.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
