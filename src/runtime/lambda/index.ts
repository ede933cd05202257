/**
 * The Lambda entry point: `index.http`, `index.s3`, `index.sqs`, `index.reconcile`. Sluice is
 * built once per container, at module load (outside the handlers), from the environment;
 * every invocation that container serves reuses its clients and connections.
 */
import { loadConfig } from "../../config.js";
import { createSluice } from "../compose.js";
import { lambdaHandlers, type LambdaSluice } from "./handlers.js";

// The stack makes the buckets; the functions' roles may not (and need not) look for them.
const ready: Promise<LambdaSluice> = createSluice(loadConfig(process.env), { createBuckets: false }).then((sluice) => {
  sluice.start({ reconcileLoop: false });
  return sluice;
});
// A failed start is reported by the first invocation (which awaits `ready`), not as an unhandled rejection.
ready.catch(() => undefined);

export const { http, s3, sqs, reconcile } = lambdaHandlers(ready);
