/**
 * The Lambda entry point: `index.http`, `index.s3`, `index.sqs`, `index.reconcile`, `index.dispatch`, `index.continue`. Sluice is
 * built once per container, at module load (outside the handlers), from the environment;
 * every invocation that container serves reuses its clients and connections.
 */
import { loadConfig } from "../../config.js";
import { startLambdaSluice } from "./adapter.js";
import { lambdaHandlers, type LambdaSluice } from "./handlers.js";

const ready: Promise<LambdaSluice> = startLambdaSluice(loadConfig(process.env));
// A failed start is reported by the first invocation (which awaits `ready`), not as an unhandled rejection.
ready.catch(() => undefined);

const handlers = lambdaHandlers(ready);
export const { http, s3, sqs, reconcile, dispatch } = handlers;
// `continue` is a reserved word: it can be an export's name, not a variable's.
const continueCopies = handlers.continue;
export { continueCopies as continue };
