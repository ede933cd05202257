/** The built `sluice` command as a package's bin runs it: executed directly, through its shebang. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { CLI, runCli } from "./helpers/cli.js";
import { freePort, startServer } from "./helpers/server.js";
import { WebhookReceiver, until, uploadText } from "./helpers/webhook-receiver.js";

const run = (args: string[]) =>
  promisify(execFile)(CLI, args, { env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent", XDG_CONFIG_HOME: "/nonexistent/sluice-test-config" } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );

describe("the sluice bin", () => {
  it("is executable and lists its commands", async () => {
    const help = await run(["--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ["upload", "url", "status", "files", "keys", "webhooks", "events", "setup"]) assert.match(help.stdout, new RegExp(`^  ${command} `, "m"));
  });

  it("has --help on every command", async () => {
    for (const command of ["upload", "url", "status", "files", "keys", "webhooks", "events", "setup"]) {
      const help = await run([command, "--help"]);
      assert.equal(help.code, 0, `${command}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: sluice ${command}`), command);
    }
  });

  it("says in one line what is missing, with exit code 2, and names the URL it could not reach", async () => {
    const noKey = await run(["upload", "/etc/hostname"]);
    assert.equal(noKey.code, 2);
    assert.equal(noKey.stderr, "sluice: no API key: pass --key, set SLUICE_API_KEY, or put apiKey in the config file\n");
    const port = await freePort(); // closed again: nothing listens there
    const unreachable = await run(["status", "upl_AAAAAAAAAAAAAAAAAAAAAA", "--url", `http://127.0.0.1:${port}`, "--key", "sk_x"]);
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.stderr, `sluice: Could not reach http://127.0.0.1:${port}/v1/uploads/upl_AAAAAAAAAAAAAAAAAAAAAA: connect ECONNREFUSED 127.0.0.1:${port} (network_error)\n`);
    const unknown = await run(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^sluice: unknown command "frobnicate"/);
  });
});

describe("sluice keys", () => {
  it("creates a scoped key, lists it with its scope, and revokes it", async () => {
    const server = await startServer();
    try {
      const env = { SLUICE_URL: server.url, SLUICE_API_KEY: server.key };
      const created = await runCli(
        ["keys", "create", "--name", "tenant-a", "--types", "image/*,application/pdf", "--max-size", "1000000", "--prefix", "tenant-a/", "--rate", "5/min", "--bytes-per-day", "1000000000", "--open", "3", "--json"],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const [key] = created.json() as [{ id: string; key: string; scope: Record<string, unknown> }];
      assert.deepEqual(key.scope, { allowedTypes: ["image/*", "application/pdf"], maxSize: 1000000, keyPrefix: "tenant-a/", rateLimit: "5/min", bytesPerDay: 1000000000, openTickets: 3 });
      assert.match(key.key, /^sk_/);

      const listed = await runCli(["keys", "ls"], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${key.id} .* active  tenant-a  \\[types image/\\*,application/pdf, max 976\\.6 KiB, prefix tenant-a/, rate 5/min, 953\\.7 MiB/day, 3 open\\]$`, "m"));
      assert.ok(!listed.stdout.includes(key.key), "the key itself is never listed");

      // The scoped key works, but may not manage keys.
      const asTenant = { SLUICE_URL: server.url, SLUICE_API_KEY: key.key };
      assert.equal((await runCli(["files", "ls"], asTenant)).code, 0);
      const refused = await runCli(["keys", "ls"], asTenant);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /only a full key may manage keys/);

      const bad = await runCli(["keys", "create", "--prefix", "../x/"], env);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /keyPrefix/);

      assert.equal((await runCli(["keys", "revoke", key.id], env)).code, 0);
      assert.match((await runCli(["keys", "ls"], env)).stdout, new RegExp(`^${key.id} .* revoked `, "m"));
    } finally {
      await server.stop();
    }
  });
});

describe("sluice webhooks", () => {
  it("adds a webhook whose deliveries verify, tests it, shows its delivery log, and removes it", async () => {
    const receiver = await new WebhookReceiver().listen();
    const server = await startServer({ SLUICE_WEBHOOK_ALLOW_PRIVATE: "true", SLUICE_ALLOWED_TYPES: "text/plain" });
    try {
      const env = { SLUICE_URL: server.url, SLUICE_API_KEY: server.key };
      const added = await runCli(["webhooks", "add", receiver.url, "--types", "upload.archived", "--json"], env);
      assert.equal(added.code, 0, added.stderr);
      const [webhook] = added.json() as [{ id: string; secret: string; eventTypes: string[] }];
      assert.match(webhook.secret, /^whsec_/);
      assert.deepEqual(webhook.eventTypes, ["upload.archived"]);
      receiver.secrets = [webhook.secret];

      const listed = await runCli(["webhooks", "ls"], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${webhook.id}  active  ${receiver.url.replace(/[.]/g, "\\.")}  \\[upload\\.archived\\]$`, "m"));
      assert.doesNotMatch(listed.stdout, /whsec_/, "the secret is shown once, at creation");

      const tested = await runCli(["webhooks", "test", webhook.id], env);
      assert.equal(tested.code, 0, tested.stderr);
      assert.match(tested.stdout, /^ok: 200 in \d+ ms/);

      const uploadId = await uploadText(server, "hello from the CLI test");
      await until(() => assert.ok(receiver.verified().some((d) => d.payload.type === "upload.archived" && d.payload.data.uploadId === uploadId)), 10_000);
      assert.deepEqual(
        receiver.verified().map((d) => d.payload.type),
        ["webhook.test", "upload.archived"],
        "every request verified with standardwebhooks, the test event first",
      );

      const log = await runCli(["webhooks", "deliveries", webhook.id, "--json"], env);
      assert.equal(log.code, 0, log.stderr);
      const attempts = log.json() as { eventId: string; status: number; attempt: number }[];
      assert.equal(attempts.length, 2);
      assert.ok(attempts.every((a) => a.status === 200 && a.attempt === 1));
      assert.deepEqual(new Set(attempts.map((a) => a.eventId)), new Set(receiver.verified().map((d) => d.id)));

      const removed = await runCli(["webhooks", "rm", webhook.id], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout, `deleted ${webhook.id}\n`);
      assert.equal((await runCli(["webhooks", "ls"], env)).stdout, "");
    } finally {
      await server.stop();
      await receiver.close();
    }
  });
});
