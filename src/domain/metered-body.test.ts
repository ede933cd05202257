import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { SluiceError } from "../errors.js";
import { meterBody } from "./metered-body.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A source that gives `chunks`, then (unless `end` is false) ends, or stays silent forever. */
function source(chunks: Uint8Array[], end = true): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(c) {
      const next = chunks.shift();
      if (next) c.enqueue(next);
      else if (end) c.close();
      // else: never another byte, like a client that stopped sending
    },
  });
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(body).arrayBuffer());
}

async function failure(body: ReadableStream<Uint8Array>): Promise<SluiceError> {
  const err = await readAll(body).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
  return err;
}

describe("meterBody", () => {
  it("passes exactly the declared bytes and hashes them", async () => {
    const data = [Buffer.from("hello "), Buffer.from("world")];
    const hash = createHash("sha256");
    const metered = meterBody(source([...data]), { size: 11, hash, idleTimeoutMs: 1000 });
    assert.equal((await readAll(metered.body)).toString(), "hello world");
    assert.equal(hash.digest("hex"), createHash("sha256").update("hello world").digest("hex"));
    metered.stop();
  });

  it("fails with 413 the moment the body passes its size, and 400 when it ends short", async () => {
    const long = meterBody(source([Buffer.alloc(8), Buffer.alloc(8)]), { size: 10, idleTimeoutMs: 1000 });
    assert.equal((await failure(long.body)).status, 413);
    const short = meterBody(source([Buffer.alloc(8)]), { size: 10, idleTimeoutMs: 1000 });
    const err = await failure(short.body);
    assert.deepEqual([err.status, err.code], [400, "length_mismatch"]);
  });

  it("drops a body with 408 when no byte comes for the idle timeout while it is read, and stops counting it as flowing", async () => {
    const metered = meterBody(source([Buffer.alloc(4)], false), { size: 10, idleTimeoutMs: 200 });
    const started = Date.now();
    const failed = failure(metered.body);
    await sleep(100);
    assert.equal(metered.flowing(), true, "within the timeout");
    const err = await failed;
    assert.deepEqual([err.status, err.code], [408, "body_timeout"]);
    const after = Date.now() - started;
    assert.ok(after >= 200 && after < 1000, `dropped after ${after} ms`);
    assert.equal(metered.flowing(), false, "a dropped body holds no claim");
    metered.stop();
  });

  it("does not blame the client while storage is not reading (a slow store)", async () => {
    const metered = meterBody(source([Buffer.alloc(5), Buffer.alloc(5)]), { size: 10, idleTimeoutMs: 100 });
    await sleep(300); // nobody reads: the client is not the one who is slow
    assert.equal(metered.flowing(), true);
    assert.equal((await readAll(metered.body)).byteLength, 10);
    metered.stop();
  });
});
