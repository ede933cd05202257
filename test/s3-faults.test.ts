/**
 * S3 down while Sluice runs: a real RGW whose gateway is stopped and started again (the OSD
 * keeps every object). Sluice must say so on /readyz, keep issuing URLs (presigning needs no
 * storage), refuse what it cannot check (fail closed), lose nothing, and finish every file by
 * itself once storage is back.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { keysIn, s3ClientFor, sluiceS3Env, startRgw, type OwnRgw } from "./helpers/rgw.js";
import { eventually, startServer, waitForFinal, type TestServer } from "./helpers/server.js";

let rgw: OwnRgw;
let s3: S3Client;
let server: TestServer;
const EVENTS_SECRET = "events-secret-for-the-fault-tests-0123";

before(async () => {
  // Its own cluster: stopping the shared one would fail the other test files.
  rgw = await startRgw();
  s3 = s3ClientFor(rgw);
  server = await startServer(
    sluiceS3Env(rgw, {
      SLUICE_EVENTS_SECRET: EVENTS_SECRET,
      SLUICE_RECONCILE_INTERVAL: "5",
    }),
  );
});
after(async () => {
  await server?.stop();
  s3?.destroy();
  await rgw?.stop(); // the whole cluster, buckets and all
});

function png(size = 32 * 1024): Buffer {
  const body = randomBytes(size);
  body.set(PNG, 0);
  return body;
}

const readyz = async () => {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { backends: Record<string, string>; error?: { message: string } } };
};

describe("S3 (RGW) stopped while Sluice runs", () => {
  it("reports it, keeps issuing, fails closed, loses nothing, and finishes every file once storage is back", async () => {
    // Two uploads land in staging; nobody reports them before storage goes away.
    const bodies = [png(), png()];
    const before = [];
    for (const body of bodies) {
      const issued = await server.api("POST", "/v1/uploads", uploadRequest(body, { sha256: sha256(body) }));
      assert.equal(issued.status, 201);
      const put = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(body) });
      assert.equal(put.status, 200);
      before.push(issued.body as { id: string; key: string });
    }
    await rgw.stopGateway();

    const down = await readyz();
    assert.equal(down.status, 503);
    assert.equal(down.body.backends["object store"], "down");
    assert.equal(down.body.backends["ticket store"], "up");
    assert.match(down.body.error?.message ?? "", /object store/);

    // Issuing still works: a presigned URL is signed here, without asking storage.
    const later = png();
    const during = await server.api("POST", "/v1/uploads", uploadRequest(later));
    assert.equal(during.status, 201);

    // What needs storage is refused, not guessed: complete and a storage event both get 503.
    const complete = await server.api("POST", `/v1/uploads/${before[0]!.id}/complete`);
    assert.equal(complete.status, 503);
    assert.equal(complete.body.error.code, "backend_unavailable");
    const event = await fetch(`${server.url}/v1/events/s3`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${EVENTS_SECRET}` },
      body: JSON.stringify({ Records: [{ eventName: "ObjectCreated:Put", s3: { bucket: { name: "staging" }, object: { key: before[1]!.key } } }] }),
    });
    assert.equal(event.status, 503, "the sender must retry an event Sluice could not check");
    for (const u of before) assert.equal((await server.api("GET", `/v1/uploads/${u.id}`)).body.state, "issued");

    // A second instance starting while storage is down starts anyway, and says so.
    const late = await startServer(sluiceS3Env(rgw, { SLUICE_STAGING_BUCKET: "late-staging", SLUICE_ARCHIVE_BUCKET: "late-archive" }));
    try {
      const lateReady = await fetch(`${late.url}/readyz`);
      assert.equal(lateReady.status, 503);
      await lateReady.body?.cancel();
      assert.ok(late.logs.some((l) => String(l.msg).startsWith("the object store cannot be reached")));

      await rgw.startGateway();
      await eventually(async () => assert.equal((await readyz()).status, 200), 20_000);
      // ... and creates its buckets once storage answers, with no restart.
      await eventually(async () => assert.equal((await fetch(`${late.url}/readyz`)).status, 200), 20_000);
      assert.deepEqual(await keysIn(s3, "late-staging"), []);
    } finally {
      await late.stop();
    }

    // The reconcile sweep finds both uploads in staging and finishes them, with no report from anyone.
    for (const [i, u] of before.entries()) {
      const final = await waitForFinal(server, u.id, 30_000);
      assert.equal(final.state, "archived", final.reason);
      const archived = await s3.send(new GetObjectCommand({ Bucket: "archive", Key: u.key }));
      assert.equal(sha256(await archived.Body!.transformToByteArray()), sha256(bodies[i]!));
    }
    // The URL issued during the outage works now.
    const put = await fetch(during.body.upload.url, { method: "PUT", headers: during.body.upload.headers, body: new Uint8Array(later) });
    assert.equal(put.status, 200);
    assert.equal((await server.api("POST", `/v1/uploads/${during.body.id}/complete`)).status, 200);
    assert.equal((await waitForFinal(server, during.body.id)).state, "archived");
    // Staging holds exactly these uploads' objects, while their URLs live, and nothing else.
    const held = ((await s3.send(new ListObjectsV2Command({ Bucket: "staging" }))).Contents ?? []).map((o) => o.Key).sort();
    assert.deepEqual(held, [...before, during.body].map((u) => u.key).sort());
  });
});
