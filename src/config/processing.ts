/** What happens after a file arrives: its checks, their retries, and the sweep that finds what no one reported. */
import { z } from "zod";
import { list, wholeNumber } from "./fields.js";

/** Seconds, decimals allowed (a test's 0.2), 0 for none. */
const seconds = () =>
  z
    .string()
    .regex(/^\d{1,6}(\.\d{1,3})?$/, "expected seconds (such as 600 or 0.5), 0 for none")
    .transform(Number);

export const processingFields = {
  SLUICE_PROCESSORS: list().default([]),
  SLUICE_MAX_ATTEMPTS: wholeNumber("a count", 1, 100).default(5),
  SLUICE_PROCESSING_LEASE: wholeNumber("seconds", 1, 86400).default(300),
  SLUICE_RECONCILE_INTERVAL: wholeNumber("seconds", 1, 86400).default(60),
  SLUICE_PROCESSING_BUDGET: seconds().optional(),
};
