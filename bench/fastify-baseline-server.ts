/**
 * The Fastify peer of issuance: seed 003's naive upload-URL server, written as its users
 * write one from the two libraries' READMEs. A POST route whose JSON body Fastify validates
 * against a JSON schema (its built-in Ajv), a key made from a random UUID and the file name,
 * and `getSignedUrl(PutObjectCommand)` from `@aws-sdk/s3-request-presigner`, answered as JSON.
 * No auth, no policy, no ticket: less than Sluice does. Presigning makes no network call, so
 * the S3 client's endpoint (RGW's, as the bench's S3 section configures it) need not answer.
 * Fastify logs at warn, as Sluice does in the bench. It logs its `listening` line as JSON, as
 * Sluice and bench/baseline-server.ts do.
 */
import { randomUUID } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import Fastify from "fastify";

const port = Number(process.env.PORT);
const s3 = new S3Client({
  region: "us-east-1",
  endpoint: process.env.PEER_S3_ENDPOINT ?? "http://127.0.0.1:17890",
  forcePathStyle: true,
  credentials: { accessKeyId: "benchaccesskey", secretAccessKey: "benchsecretkey" },
});

const app = Fastify({ logger: { level: "warn" } });

interface UploadBody {
  filename: string;
  contentType: string;
  size: number;
}

app.post<{ Body: UploadBody }>(
  "/v1/uploads",
  {
    schema: {
      body: {
        type: "object",
        required: ["filename", "contentType", "size"],
        properties: {
          filename: { type: "string", minLength: 1, maxLength: 255 },
          contentType: { type: "string", minLength: 1, maxLength: 255 },
          size: { type: "integer", minimum: 1, maximum: 5 * 1024 ** 3 },
        },
      },
    },
  },
  async (request, reply) => {
    const { filename, contentType, size } = request.body;
    const key = `uploads/${randomUUID()}/${filename}`;
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: "staging", Key: key, ContentType: contentType, ContentLength: size }), { expiresIn: 300 });
    return reply.code(201).send({ key, url, expiresAt: new Date(Date.now() + 300_000).toISOString() });
  },
);

await app.listen({ port, host: "127.0.0.1" });
process.stdout.write(JSON.stringify({ msg: "listening", port }) + "\n");
// A clean exit on SIGTERM (the bench stops servers so), so that a `--cpu-prof` profile is written.
process.once("SIGTERM", () => void app.close().then(() => process.exit(0)));
