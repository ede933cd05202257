/**
 * The Lambda entry point: `index.http`, `index.s3`, `index.sqs`, `index.reconcile`, `index.dispatch`. Sluice is
 * built once per container, at module load (outside the handlers), from the environment;
 * every invocation that container serves reuses its clients and connections.
 */
import { loadConfig } from "../../config.js";
import { startLambdaSluice } from "./adapter.js";
import { lambdaHandlers, type LambdaSluice } from "./handlers.js";

const ready: Promise<LambdaSluice> = startLambdaSluice(loadConfig(process.env));
// A failed start is reported by the first invocation (which awaits `ready`), not as an unhandled rejection.
ready.catch(() => undefined);

export const { http, s3, sqs, reconcile, dispatch } = lambdaHandlers(ready);
