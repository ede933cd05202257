import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventBell } from "./bell.js";

describe("EventBell", () => {
  it("wakes every waiter at a ring, and only those waiting then", async () => {
    const bell = new EventBell();
    const woken: number[] = [];
    const waits = [1, 2].map((n) => bell.wait(10_000).then(() => woken.push(n)));
    assert.equal(bell.waiting, 2);
    bell.ring();
    await Promise.all(waits);
    assert.deepEqual(woken.sort(), [1, 2]);
    assert.equal(bell.waiting, 0);
  });

  it("resolves after the timeout without a ring", async () => {
    const bell = new EventBell();
    const started = Date.now();
    // The bell's timer does not keep a process alive on its own (a server's socket does).
    const alive = setTimeout(() => undefined, 1000);
    await bell.wait(30);
    clearTimeout(alive);
    assert.ok(Date.now() - started >= 25);
    assert.equal(bell.waiting, 0);
  });

  it("resolves when the signal aborts, and at once if it already has", async () => {
    const bell = new EventBell();
    const controller = new AbortController();
    const wait = bell.wait(10_000, controller.signal);
    controller.abort();
    await wait;
    assert.equal(bell.waiting, 0);
    await bell.wait(10_000, controller.signal);
  });
});
