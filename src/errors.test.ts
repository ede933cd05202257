import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackendUnavailableError, ERROR_CODES, SluiceError, StorageFullError, badRequest, sluiceError, toSluiceError } from "./errors.js";
import { UnsafeObjectKeyError } from "./storage/object-store.js";

describe("errors", () => {
  it("take their status from the registry", () => {
    for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
      assert.equal(sluiceError(code, "m").status, ERROR_CODES[code].status, code);
    }
    assert.equal(new StorageFullError().status, ERROR_CODES.storage_full.status);
    assert.equal(new BackendUnavailableError("ticket store").status, ERROR_CODES.backend_unavailable.status);
  });

  it("compile only with a registered code, under a status the registry gives it", () => {
    // Checked by tsc (the test command type-checks tests): each line below must fail to compile.
    // @ts-expect-error an unregistered code
    assert.ok(new SluiceError(400, "no_such_code", "m"));
    // @ts-expect-error a registered code under another status
    assert.ok(new SluiceError(400, "quota_exceeded", "m"));
    // @ts-expect-error a 429 code through the 400 factory
    assert.ok(badRequest("rate_limited", "m"));
    // A code registered under two statuses compiles under both.
    assert.equal(new SluiceError(400, "storage_refused", "m").status, 400);
    assert.equal(new SluiceError(502, "storage_refused", "m").status, 502);
  });

  describe("toSluiceError, the one mapping of what a backend call threw", () => {
    it("passes a Sluice error through as it is", () => {
      const err = badRequest("invalid_json", "m");
      assert.equal(toSluiceError("metadata store", err), err);
    });
    it("answers a key no store can hold as the request's fault (400 invalid_key)", () => {
      const err = toSluiceError("object store", new UnsafeObjectKeyError("a/../b"));
      assert.equal(err.status, 400);
      assert.equal(err.code, "invalid_key");
    });
    it("answers anything else as the named backend being unavailable (503), keeping the cause", () => {
      const cause = new Error("ECONNREFUSED");
      const err = toSluiceError("rate limiter", cause);
      assert.ok(err instanceof BackendUnavailableError);
      assert.equal(err.backend, "rate limiter");
      assert.equal(err.code, "backend_unavailable");
      assert.equal(err.message, "The rate limiter is unavailable.");
      assert.equal(err.cause, cause);
    });
  });
});
