/**
 * `POST /v1/uploads/{id}/complete?wait=N`: a client that completes may wait for processing's
 * verdict, and learns a rejection as 422 `file_rejected` with the reason.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HTML, PNG, uploadRequest } from "./helpers/fixtures.js";
import { startServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
before(async () => {
  server = await startServer({ SLUICE_ALLOWED_TYPES: "image/*,text/plain", SLUICE_MAX_SIZE: "1048576" });
});
after(async () => server.stop());

/** Issues a gateway upload declared as a PNG and sends `bytes` to it. */
async function uploadAsPng(bytes: Uint8Array): Promise<string> {
  const issued = await server.api("POST", "/v1/uploads", uploadRequest(bytes));
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const put = await fetch(issued.body.upload.url, { method: "PUT", headers: issued.body.upload.headers, body: new Uint8Array(bytes) });
  assert.equal(put.status, 200, await put.text());
  return issued.body.id as string;
}

describe("complete?wait", () => {
  it("answers 200 with the archived upload once processing accepted it", async () => {
    const id = await uploadAsPng(PNG);
    const res = await server.api("POST", `/v1/uploads/${id}/complete?wait=10`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, "archived");
  });

  it("answers 422 file_rejected with the reason when processing rejected the file", async () => {
    const id = await uploadAsPng(HTML);
    const res = await server.api("POST", `/v1/uploads/${id}/complete?wait=10`);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "file_rejected");
    assert.match(res.body.error.message, /type_mismatch/);
    // Asked again, the same answer: the verdict stands.
    const again = await server.api("POST", `/v1/uploads/${id}/complete?wait=1`);
    assert.equal(again.status, 422);
  });

  it("without wait, answers at once with the state as it stands", async () => {
    const id = await uploadAsPng(HTML);
    const res = await server.api("POST", `/v1/uploads/${id}/complete`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(["uploaded", "processing", "rejected"].includes(res.body.state as string), res.body.state);
  });

  it("answers the state as it stands when the verdict is not in yet (an upload with no bytes is 409 as before)", async () => {
    const issued = await server.api("POST", "/v1/uploads", uploadRequest(PNG));
    const started = Date.now();
    const res = await server.api("POST", `/v1/uploads/${issued.body.id}/complete?wait=2`);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "not_uploaded");
    assert.ok(Date.now() - started < 1500, "an upload without bytes is not waited for");
  });

  it("refuses a wait that is not whole seconds", async () => {
    const id = await uploadAsPng(PNG);
    const res = await server.api("POST", `/v1/uploads/${id}/complete?wait=soon`);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "invalid_request");
  });
});
