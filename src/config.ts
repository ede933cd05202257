// The configuration lives in src/config/; this path stays so that `../config.js` imports keep working.
export * from "./config/index.js";
