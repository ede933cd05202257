// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "**/dist/", "node_modules/", "data/", ".tmp/", "docs/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "Read configuration in src/config/ only; pass it down." },
      ],
    },
  },
  {
    // The composition roots and the test/bench harnesses are where the environment is read.
    files: ["src/config.ts", "src/config/**", "src/runtime/**", "src/cli/**", "test/**", "bench/**", "scripts/**", "infra/app.ts"],
    rules: { "no-restricted-properties": "off" },
  },
  {
    // The client package and the web page run in browsers: no server code, no Node-only modules.
    files: ["packages/client/src/**", "src/client/**", "src/web/**"],
    ignores: ["packages/client/src/node.ts", "packages/client/src/**/*.test.ts", "src/client/node.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "Client code must run in a browser." },
            { regex: "^\\.\\./", message: "Client code must not import server code: only the client package (@sluice/client) and its own files." },
          ],
          paths: ["fs", "path", "crypto", "stream", "http", "https", "os", "child_process"],
        },
      ],
    },
  },
  {
    // The client's Node entry point may use Node's modules (file paths, streams), never server code.
    files: ["packages/client/src/node.ts", "src/client/node.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: "^\\.\\./", message: "Client code must not import server code." }] }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["**/*.test.ts", "**/*.conformance.ts", "test/**", "bench/**"],
    rules: {
      // node:test's describe/it return promises that the runner awaits itself.
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
  {
    // HTTP tests read JSON bodies whose shape is what the assertions check at run time.
    files: ["test/**"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
    },
  },
);
