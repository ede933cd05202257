import assert from "node:assert/strict";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { isPublicAddress, resolvePublic, type Resolve } from "./addresses.js";
import { sendWebhook } from "./send.js";

describe("webhook addresses (SSRF)", () => {
  it("refuses every non-public range, in IPv4, IPv6 and IPv4-mapped IPv6", () => {
    const refused = [
      "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.100.100.200",
      "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
      "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::", "not-an-ip",
    ];
    for (const a of refused) assert.equal(isPublicAddress(a), false, a);
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) assert.equal(isPublicAddress(a), true, a);
  });

  it("a name is refused if any of its addresses is not public", async () => {
    await assert.rejects(resolvePublic("mixed.test", () => Promise.resolve(["93.184.216.34", "10.0.0.1"])), /10\.0\.0\.1 \(private\)/);
    await assert.rejects(resolvePublic("[::1]", () => Promise.resolve([])), /loopback/);
    assert.deepEqual(await resolvePublic("ok.test", () => Promise.resolve(["93.184.216.34"])), ["93.184.216.34"]);
  });
});

describe("webhook delivery against a real receiver on 127.0.0.1 with the checks on", () => {
  let receiver: http.Server;
  let port: number;
  let received = 0;
  before(async () => {
    receiver = http.createServer((req, res) => {
      received++;
      req.resume();
      res.end("ok");
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
    port = (receiver.address() as AddressInfo).port;
  });
  after(() => receiver.close());

  it("DNS rebinding: a name that resolved public at creation and resolves to 127.0.0.1 at delivery is refused before connecting", async () => {
    let lookups = 0;
    // First answer public (what the creation check saw), then the receiver's loopback address.
    const rebinding: Resolve = () => Promise.resolve(lookups++ === 0 ? ["93.184.216.34"] : ["127.0.0.1"]);
    assert.deepEqual(await resolvePublic("rebind.test", rebinding), ["93.184.216.34"]);
    const before = received;
    const r = await sendWebhook({ url: `http://rebind.test:${port}/hook`, headers: {}, body: "{}", timeoutMs: 2000, allowPrivate: false, resolve: rebinding });
    assert.equal(r.ok, false);
    assert.equal(r.status, null);
    assert.match(r.error ?? "", /rebind\.test resolves to 127\.0\.0\.1 \(loopback\)/);
    assert.equal(lookups, 2);
    assert.equal(received, before, "the receiver saw no request");
  });

  it("the socket's real peer address is checked too: a lookup that lets 127.0.0.1 through is still refused once connected", async () => {
    // The resolver says 127.0.0.1, and the stand-in peer check sees what the socket really connected to.
    const seen: string[] = [];
    const before = received;
    const r = await sendWebhook({
      url: `http://127.0.0.1:${port}/hook`, // an IP literal: Node never calls lookup for it
      headers: {},
      body: "{}",
      timeoutMs: 2000,
      allowPrivate: false,
      isAllowedPeer: (address) => (seen.push(address), isPublicAddress(address)),
    });
    assert.deepEqual(seen, ["127.0.0.1"]);
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /127\.0\.0\.1 \(loopback\)/);
    // The request was destroyed on connect: the receiver never saw a request.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(received, before);
  });

  it("with SLUICE_WEBHOOK_ALLOW_PRIVATE the same receiver is reached", async () => {
    const r = await sendWebhook({ url: `http://127.0.0.1:${port}/hook`, headers: {}, body: "{}", timeoutMs: 2000, allowPrivate: true });
    assert.deepEqual([r.ok, r.status, r.responseHead], [true, 200, "ok"]);
  });

  it("a redirect is not followed: a failed attempt naming where it pointed", async () => {
    const redirecting = http.createServer((req, res) => {
      req.resume();
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
    });
    redirecting.listen(0, "127.0.0.1");
    await once(redirecting, "listening");
    const r = await sendWebhook({ url: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/`, headers: {}, body: "{}", timeoutMs: 2000, allowPrivate: true });
    redirecting.close();
    assert.deepEqual([r.ok, r.status], [false, 302]);
    assert.match(r.error ?? "", /redirect to http:\/\/169\.254\.169\.254\/latest\/meta-data\/ not followed/);
  });
});
