/** What happens after a file arrives: its checks, their retries, and the sweep that finds what no one reported. */
import { documented, list, wholeNumber } from "./fields.js";

export const processingFields = {
  SLUICE_PROCESSORS: documented(list().default([]), {
    description: "comma-separated paths of processor modules (see [Processors](#processors))",
  }),
  SLUICE_MAX_ATTEMPTS: documented(wholeNumber("a count", 1, 100).default(5), {
    description: "processing attempts before `failed`",
  }),
  SLUICE_PROCESSING_LEASE: documented(wholeNumber("seconds", 1, 86400).default(300), {
    description: "seconds a processing job outlives a worker that died holding it (the holder renews it every third of this)",
  }),
  SLUICE_RECONCILE_INTERVAL: documented(wholeNumber("seconds", 1, 86400).default(60), {
    description: "seconds between reconcile sweeps",
  }),
};
