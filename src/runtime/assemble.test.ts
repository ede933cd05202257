import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryLimitStore } from "../limits/memory.js";
import { limitStoreFor } from "./assemble.js";

describe("limitStoreFor", () => {
  it("refuses limits configured in Redis without a client, rather than counting per instance in memory", () => {
    assert.throws(() => limitStoreFor({ rateLimitStore: { kind: "redis", url: "redis://127.0.0.1:6379" } }, undefined), /need a Redis client/);
  });

  it("counts in memory when the configuration says so", () => {
    assert.ok(limitStoreFor({ rateLimitStore: { kind: "memory" } }, undefined) instanceof MemoryLimitStore);
  });
});
