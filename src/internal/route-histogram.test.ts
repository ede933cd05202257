/** RouteHistogram against prom-client's Histogram: the same observations must expose the same text. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Histogram, Registry } from "prom-client";
import { RouteHistogram } from "./route-histogram.js";

const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

describe("RouteHistogram", () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: "x_seconds", help: "Latency.", labelNames: ["method", "route", "status"], buckets, registers: [theirs] });
    const fast = new RouteHistogram("x_seconds", "Latency.", ["method", "route", "status"], buckets, ours);
    // Values on, below and above every bound, and a few label sets, in a random order.
    const samples: [string, string, string, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const value = i % 7 === 0 ? buckets[i % buckets.length]! : i % 11 === 0 ? 100 + i : Math.random() * 2;
      samples.push([i % 3 ? "POST" : "GET", ["/v1/uploads", "/v1/files/{id}", "unmatched"][i % 3]!, String([201, 200, 404, 503][i % 4]), value]);
    }
    for (const [method, route, status, value] of samples) {
      reference.labels(method, route, status).observe(value);
      fast.observe([method, route, status], value);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  });
});
