/** What happens after a file arrives: its checks, their retries, and the sweep that finds what no one reported. */
import { list, wholeNumber } from "./fields.js";

export const processingFields = {
  SLUICE_PROCESSORS: list().default([]),
  SLUICE_MAX_ATTEMPTS: wholeNumber("a count", 1, 100).default(5),
  SLUICE_PROCESSING_LEASE: wholeNumber("seconds", 1, 86400).default(300),
  SLUICE_RECONCILE_INTERVAL: wholeNumber("seconds", 1, 86400).default(60),
};
