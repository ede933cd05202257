/**
 * Scoped temporary credentials (`"method": "credentials"`) against Ceph RGW's own STS: the
 * session policy sent to AssumeRole, exactly; what storage then lets those credentials do
 * (upload their one key, by one PUT or by the SDK's multipart uploader, and nothing else);
 * and the file ending archived. RGW enforces session policies, so each refusal below is
 * storage's, not Sluice's.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { STSClient } from "@aws-sdk/client-sts";
import { Upload } from "@aws-sdk/lib-storage";
import type { CredentialInstructions } from "../src/domain/upload-routes/upload-route.js";
import { StsCredentialIssuer, uploadSessionPolicy } from "../src/storage/s3-credentials.js";
import { HTML, PNG, sha256, uploadRequest } from "./helpers/fixtures.js";
import { startSluiceOnRgw, type SluiceOnRgw } from "./helpers/rgw.js";
import { ROOT, eventually, freePort, startServer, waitForFinal } from "./helpers/server.js";

const ROLE = "arn:aws:iam:::role/sluice-uploader";

/** The answer to `"method": "credentials"`: the instructions as JSON (the expiry an ISO string). */
interface Granted {
  id: string;
  key: string;
  expiresAt: string;
  credentials: Omit<CredentialInstructions, "expiresAt"> & { expiresAt: string };
}

function png(size: number): Buffer {
  const body = randomBytes(size);
  body.set(PNG, 0);
  return body;
}

describe("the session policy", () => {
  it("allows the upload actions on one key, and nothing else", () => {
    assert.equal(
      uploadSessionPolicy("aws", { bucket: "sluice-staging", key: "tenant-a/upl_abc/cat.png" }),
      '{"Version":"2012-10-17","Statement":[{"Sid":"UploadOneKey","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":"arn:aws:s3:::sluice-staging/tenant-a/upl_abc/cat.png"}]}',
    );
    assert.equal(JSON.parse(uploadSessionPolicy("aws-cn", { bucket: "b", key: "upl_x/f" })).Statement[0].Resource, "arn:aws-cn:s3:::b/upl_x/f");
  });

  it("refuses a key that IAM would read as a wildcard", () => {
    assert.throws(() => uploadSessionPolicy("aws", { bucket: "b", key: "upl_x/*" }), /wildcards/);
    assert.throws(() => uploadSessionPolicy("aws", { bucket: "b", key: "upl_x/a?c" }), /wildcards/);
  });
});

describe("scoped credentials from RGW's STS", () => {
  let sluice: SluiceOnRgw;
  let gateDir: string;
  before(async () => {
    gateDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-gate-"));
    const gate = { SLUICE_PROCESSORS: path.join(ROOT, "test/fixtures/gate-processor.mjs"), SLUICE_TEST_GATE_DIR: gateDir };
    sluice = await startSluiceOnRgw((rgw) => ({ SLUICE_STS_ROLE_ARN: ROLE, AWS_ENDPOINT_URL_STS: rgw.endpoint, SLUICE_URL_TTL: "60", ...gate }));
  });
  after(async () => {
    await sluice?.close();
    await fs.rm(gateDir, { recursive: true, force: true });
  });

  /** An S3 client holding the granted credentials, as a client application would build it. */
  const clientFor = (g: Granted["credentials"]) =>
    new S3Client({
      region: g.region,
      ...(g.endpoint && { endpoint: g.endpoint }),
      forcePathStyle: g.forcePathStyle,
      credentials: { accessKeyId: g.accessKeyId, secretAccessKey: g.secretAccessKey, sessionToken: g.sessionToken },
    });

  async function grant(body: Buffer, overrides: Record<string, unknown> = {}): Promise<Granted> {
    const issued = await sluice.server.api("POST", "/v1/uploads", uploadRequest(body, { method: "credentials", sha256: sha256(body), ...overrides }));
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    return issued.body as Granted;
  }

  it("sends AssumeRole exactly this session policy, for the upload's own session", async () => {
    const sent: URLSearchParams[] = [];
    const client = new STSClient({ endpoint: sluice.rgw.endpoint, region: "us-east-1", credentials: { accessKeyId: sluice.rgw.accessKeyId, secretAccessKey: sluice.rgw.secretAccessKey } });
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body?: unknown };
        if (typeof request.body === "string") sent.push(new URLSearchParams(request.body));
        return next(args);
      },
      { step: "finalizeRequest" },
    );
    const issuer = new StsCredentialIssuer({ client, roleArn: ROLE, maxSeconds: 3600 });
    const creds = await issuer.forUpload({ bucket: sluice.staging, key: "upl_wire/cat.png" }, { sessionName: "upl_wire", durationSeconds: 60 });
    client.destroy();
    assert.equal(sent.length, 1);
    const params = sent[0]!;
    assert.equal(params.get("Action"), "AssumeRole");
    assert.equal(params.get("RoleArn"), ROLE);
    assert.equal(params.get("RoleSessionName"), "upl_wire");
    assert.equal(params.get("DurationSeconds"), "900", "STS's shortest session, not the 60 s asked for");
    assert.equal(
      params.get("Policy"),
      `{"Version":"2012-10-17","Statement":[{"Sid":"UploadOneKey","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":"arn:aws:s3:::${sluice.staging}/upl_wire/cat.png"}]}`,
    );
    assert.match(creds.accessKeyId, /^\S+$/);
    const lifetime = creds.expiresAt - Date.now();
    assert.ok(lifetime > 800_000 && lifetime <= 900_000, `credentials last ${lifetime} ms`);
  });

  it("a multipart upload by the SDK's own uploader goes through, and the file ends archived", async () => {
    const body = png(12 * 1024 * 1024);
    const g = await grant(body);
    assert.equal(g.credentials.bucket, sluice.staging);
    assert.equal(g.credentials.key, g.key);
    assert.equal(g.credentials.contentType, "image/png");
    assert.equal(g.credentials.endpoint, sluice.rgw.endpoint);
    assert.equal(g.expiresAt, g.credentials.expiresAt, "the ticket lives as long as the credentials");
    assert.ok(Date.parse(g.expiresAt) - Date.now() > 800_000, "a 60 s TTL is raised to STS's 15 minutes");

    const s3 = clientFor(g.credentials);
    const parts: number[] = [];
    const upload = new Upload({ client: s3, partSize: 5 * 1024 * 1024, params: { Bucket: g.credentials.bucket, Key: g.credentials.key, Body: body, ContentType: g.credentials.contentType } });
    upload.on("httpUploadProgress", (p) => p.part !== undefined && parts.push(p.part));
    await upload.done();
    s3.destroy();
    assert.deepEqual([...new Set(parts)].sort(), [1, 2, 3], "three parts: the uploader went multipart");

    const completed = await sluice.server.api("POST", `/v1/uploads/${g.id}/complete`);
    assert.equal(completed.status, 200, JSON.stringify(completed.body));
    const final = await waitForFinal(sluice.server, g.id);
    assert.equal(final.state, "archived", JSON.stringify(final));
    const archived = await sluice.s3.send(new GetObjectCommand({ Bucket: sluice.archive, Key: g.key }));
    assert.equal(sha256(await archived.Body!.transformToByteArray()), sha256(body));
  });

  it("storage refuses everything else the credentials try: other keys, other buckets, reads, deletes, listing", async () => {
    const body = png(2048);
    const g = await grant(body);
    const s3 = clientFor(g.credentials);
    const { bucket, key } = g.credentials;
    const refused = async (what: string, send: () => Promise<unknown>) => {
      await assert.rejects(send(), (err: Error) => err.name === "AccessDenied", `${what} must be refused by storage`);
    };
    await refused("a PUT to another key in staging", () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key.replace("/cat.png", "/other.png"), Body: body, ContentType: "image/png" })));
    await refused("a PUT to another upload's prefix", () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `upl_someoneelse/cat.png`, Body: body, ContentType: "image/png" })));
    await refused("a PUT of the same key to the archive bucket", () => s3.send(new PutObjectCommand({ Bucket: sluice.archive, Key: key, Body: body, ContentType: "image/png" })));
    await refused("listing staging", () => s3.send(new ListObjectsV2Command({ Bucket: bucket })));

    // A single PUT of its own key works (the uploader picks PutObject for a small file).
    await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body, ContentType: g.credentials.contentType } }).done();
    await refused("reading the object back", () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    await refused("deleting it", () => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
    s3.destroy();

    assert.equal((await sluice.server.api("POST", `/v1/uploads/${g.id}/complete`)).status, 200);
    assert.equal((await waitForFinal(sluice.server, g.id)).state, "archived");
  });

  it("archives exactly the bytes it checked when the credentials write the key again during the check", async () => {
    const body = png(64 * 1024);
    const g = await grant(body, { metadata: { gate: "yes" } });
    const s3 = clientFor(g.credentials);
    const putKey = (bytes: Buffer) => s3.send(new PutObjectCommand({ Bucket: g.credentials.bucket, Key: g.key, Body: bytes, ContentType: g.credentials.contentType }));
    await putKey(body);
    assert.equal((await sluice.server.api("POST", `/v1/uploads/${g.id}/complete`)).status, 200);
    await eventually(() => fs.access(path.join(gateDir, `${g.id}.checking`)), 10_000);
    // A session policy cannot hold the key to one write: storage takes the second one.
    const swapped = Buffer.alloc(body.byteLength, 0x20);
    swapped.set(HTML);
    await putKey(swapped);
    s3.destroy();
    await fs.writeFile(path.join(gateDir, `${g.id}.go`), "");
    const final = await waitForFinal(sluice.server, g.id);
    assert.equal(final.state, "rejected", "the replaced bytes were checked again, and refused");
    const archived = await sluice.s3.send(new ListObjectsV2Command({ Bucket: sluice.archive }));
    assert.ok(!(archived.Contents ?? []).some((o) => o.Key === g.key), "the swapped bytes never reached the archive");
  });
});

describe("without STS", () => {
  it("a server with no role refuses the method with 422, and one whose STS is down issues nothing (503)", async () => {
    const plain = await startServer();
    try {
      const res = await plain.api("POST", "/v1/uploads", uploadRequest(PNG, { method: "credentials" }));
      assert.equal(res.status, 422);
      assert.equal((res.body as { error: { code: string } }).error.code, "credentials_unavailable");
    } finally {
      await plain.stop();
    }

    const down = await startSluiceOnRgw({ SLUICE_STS_ROLE_ARN: ROLE, AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${await freePort()}` });
    try {
      const res = await down.server.api("POST", "/v1/uploads", uploadRequest(PNG, { method: "credentials" }));
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal((res.body as { error: { code: string } }).error.code, "backend_unavailable");
      // A plain PUT upload still works: only the credentials depend on STS.
      assert.equal((await down.server.api("POST", "/v1/uploads", uploadRequest(PNG))).status, 201);
    } finally {
      await down.close();
    }
  });
});
