import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RouteHistogram } from "./route-histogram.js";

/** Prometheus metrics, in a registry of their own so that several apps can share a process. */
export class Metrics {
  readonly registry = new Registry();
  readonly issued = new Counter({ name: "sluice_uploads_issued_total", help: "Upload tickets issued.", registers: [this.registry] });
  readonly uploaded = new Counter({
    name: "sluice_uploads_received_total",
    help: "Uploads whose bytes arrived in staging.",
    labelNames: ["via"] as const,
    registers: [this.registry],
  });
  readonly archived = new Counter({ name: "sluice_files_archived_total", help: "Files moved to the archive.", registers: [this.registry] });
  readonly rejected = new Counter({
    name: "sluice_files_rejected_total",
    help: "Files rejected by the checks or a processor.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly failed = new Counter({
    name: "sluice_files_failed_total",
    help: "Files that failed processing after every retry.",
    registers: [this.registry],
  });
  readonly processingRetries = new Counter({
    name: "sluice_processing_retries_total",
    help: "Processing attempts that failed and were scheduled again.",
    registers: [this.registry],
  });
  readonly eventRecordsIgnored = new Counter({
    name: "sluice_storage_event_records_ignored_total",
    help: "Storage event records skipped because their key is not one Sluice could have issued (undecodable or unsafe, such as ../ segments).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new RouteHistogram(
    "sluice_http_request_duration_seconds",
    "HTTP request latency, by route pattern.",
    ["method", "route", "status"],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    this.registry,
  );
  readonly processingDuration = new Histogram({
    name: "sluice_processing_duration_seconds",
    help: "Time from arrival to a final state, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** Records one request's latency (on every request: see RouteHistogram). */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe([method, route, String(status)], seconds);
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "sluice_" });
  }
}
