import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { once } from "./async.js";

describe("once", () => {
  it("runs the load once for concurrent and later calls, and shares its result", async () => {
    let runs = 0;
    const value = once(() => Promise.resolve({ run: ++runs }));
    const [a, b] = await Promise.all([value(), value()]);
    assert.equal(a, b);
    assert.equal(await value(), a);
    assert.equal(runs, 1);
  });

  it("forgets a failure: the next call runs the load again", async () => {
    let runs = 0;
    const value = once(() => (++runs === 1 ? Promise.reject(new Error("not yet")) : Promise.resolve(runs)));
    await assert.rejects(value(), /not yet/);
    assert.equal(await value(), 2);
    assert.equal(await value(), 2);
  });
});
