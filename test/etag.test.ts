/**
 * The gateway answers every PUT, single or part, with S3's ETag: the quoted hex MD5 of the
 * bytes. On the filesystem Sluice hashes them; on S3 (Ceph RGW) it passes storage's on.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { startServer, waitForFinal, type TestServer } from "./helpers/server.js";

const MiB = 1024 ** 2;
const md5 = (data: Uint8Array) => `"${createHash("md5").update(data).digest("hex")}"`;
const env = { SLUICE_UPLOAD_MODE: "gateway", SLUICE_MULTIPART_THRESHOLD: String(5 * MiB), SLUICE_PART_SIZE: String(5 * MiB) };

function etagSuite(name: string, start: () => Promise<{ server: TestServer; stop: () => Promise<void> }>) {
  describe(`gateway ETags on ${name}`, () => {
    let server: TestServer;
    let stop: () => Promise<void>;
    before(async () => {
      ({ server, stop } = await start());
    });
    after(() => stop?.());

    it("a single PUT answers with the MD5 of its bytes", async () => {
      const body = randomBytes(300_000);
      const issued = await server.api("POST", "/v1/uploads", { filename: "a.bin", contentType: "application/octet-stream", size: body.length });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const res = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(body) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("etag"), md5(body));
      assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
    });

    it("each part answers with the MD5 of its bytes, which listing and completing use alike", async () => {
      const body = randomBytes(6 * MiB);
      const issued = await server.api("POST", "/v1/uploads", { filename: "b.bin", contentType: "application/octet-stream", size: body.length });
      assert.equal(issued.body.multipart.partCount, 2);
      const urls = await server.api("POST", `/v1/uploads/${issued.body.id}/parts`, { partNumbers: [1, 2] });
      const parts = [];
      for (const p of urls.body.parts as { partNumber: number; url: string }[]) {
        const chunk = body.subarray((p.partNumber - 1) * 5 * MiB, p.partNumber * 5 * MiB);
        const res = await fetch(p.url, { method: "PUT", body: new Uint8Array(chunk) });
        assert.equal(res.status, 200);
        const etag = res.headers.get("etag");
        assert.equal(etag, md5(chunk), `part ${p.partNumber}`);
        assert.equal(((await res.json()) as { etag: string }).etag, etag);
        parts.push({ partNumber: p.partNumber, etag });
      }
      const listed = await server.api("GET", `/v1/uploads/${issued.body.id}/parts`);
      assert.deepEqual(
        (listed.body.parts as { partNumber: number; etag: string }[]).map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
        parts,
      );
      const done = await server.api("POST", `/v1/uploads/${issued.body.id}/complete`, { parts });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal((await waitForFinal(server, issued.body.id)).state, "archived");
    });
  });
}

etagSuite("the filesystem", async () => {
  const server = await startServer(env);
  return { server, stop: () => server.stop() };
});

etagSuite("S3 (Ceph RGW)", async () => {
  const sluice: SluiceOnRgw = await startSluiceOnRgw(env);
  return { server: sluice.server, stop: () => sluice.close() };
});
