import assert from "node:assert/strict";
import { it } from "node:test";
import { clampFeedWaitMs, MAX_FEED_WAIT_SECONDS } from "./event-feed.js";

it("a long poll's wait is whole seconds, at most 30, and under the idle timeout", () => {
  assert.equal(MAX_FEED_WAIT_SECONDS, 30);
  assert.equal(clampFeedWaitMs(20, 60_000), 20_000);
  assert.equal(clampFeedWaitMs(999, 60_000), 30_000);
  assert.equal(clampFeedWaitMs(2.9, 60_000), 2000);
  assert.equal(clampFeedWaitMs(-5, 60_000), 0);
  assert.equal(clampFeedWaitMs(30, 5000), 4000);
  assert.equal(clampFeedWaitMs(30, 500), 0);
});
