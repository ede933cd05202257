/** The client's address on Lambda, from each event source API Gateway and ALB send. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono } from "hono";
import { handle, type LambdaEvent } from "hono/aws-lambda";
import { lambdaPeerAddress } from "./adapter.js";

const app = new Hono().get("/", (c) => c.text(lambdaPeerAddress(c) ?? "none"));
const http = handle(app);
const addressOf = async (event: Record<string, unknown>) => (await http(event as unknown as LambdaEvent)).body;

const base = { headers: { host: "h" }, isBase64Encoded: false, body: null };

describe("lambdaPeerAddress", () => {
  it("reads requestContext.http.sourceIp from an HTTP API (2.0) event", async () => {
    const event = { ...base, version: "2.0", rawPath: "/", rawQueryString: "", requestContext: { http: { method: "GET", path: "/", sourceIp: "198.51.100.1" } } };
    assert.equal(await addressOf(event), "198.51.100.1");
  });

  it("reads requestContext.identity.sourceIp from a REST API (1.0) event, not a forwarded-for the client wrote", async () => {
    const event = { ...base, headers: { host: "h", "x-forwarded-for": "10.9.9.9" }, httpMethod: "GET", path: "/", requestContext: { identity: { sourceIp: "198.51.100.2" } } };
    assert.equal(await addressOf(event), "198.51.100.2");
  });

  it("takes the entry an ALB appended to X-Forwarded-For", async () => {
    const event = { ...base, headers: { host: "h", "x-forwarded-for": "10.9.9.9, 198.51.100.3" }, httpMethod: "GET", path: "/", requestContext: { elb: { targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/0" } } };
    assert.equal(await addressOf(event), "198.51.100.3");
  });

  it("knows none outside an invocation's event", async () => {
    assert.equal(await (await app.request("/")).text(), "none");
  });
});
