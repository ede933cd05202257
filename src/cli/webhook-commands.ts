/** `sluice webhooks …`: add, list, remove, test, and read the delivery log of webhooks, through the SDK. */
import type { EventType, Webhook } from "@sluice/client/node";
import { parseArgs } from "node:util";
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, connect, print, wholeNumber } from "./client-commands.js";

export const WEBHOOKS_USAGE = `Usage: sluice webhooks <add|ls|rm|test|deliveries|rotate|resume|redeliver> [args] [options]

  add <url> [--types <t,…>]     a webhook (Standard Webhooks); its secret is printed once
  ls                             webhooks, with whether each is paused and why
  rm <webhook id>                delete a webhook with its deliveries
  test <webhook id>              send a signed webhook.test event now; print the answer
  deliveries <webhook id> [--limit <n>]
                                 the delivery log, newest attempt first
  rotate <webhook id> [--overlap <seconds>]
                                 a new secret (printed once); the old one signs too for the
                                 overlap (default 86400)
  resume <webhook id>            resume a paused webhook
  redeliver <webhook id> (--event <evt id> | --since <time> --until <time>)
                                 send an event, or every event of a time range, again

Event types: upload.archived, upload.rejected, upload.failed, upload.expired, file.deleted.

Options:
${CONNECTION_HELP}
`;

function describeWebhook(w: Webhook): string {
  const types = w.eventTypes ? w.eventTypes.join(",") : "all events";
  const state = w.paused ? `PAUSED (${w.pausedReason ?? "no reason"})` : "active";
  return `${w.id}  ${state}  ${w.url}  [${types}]${w.keyPrefix ? `  prefix ${w.keyPrefix}` : ""}`;
}

export async function webhooksCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_OPTIONS,
      types: { type: "string" },
      limit: { type: "string" },
      overlap: { type: "string" },
      event: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, arg] = positionals;
  if (values.help || action === undefined) {
    if (action === undefined && !values.help) throw new UsageError(`missing action\n\n${WEBHOOKS_USAGE}`);
    process.stdout.write(WEBHOOKS_USAGE);
    return 0;
  }
  const need = (what: string) => {
    if (!arg) throw new UsageError(`give ${what}`);
    return arg;
  };
  const conn = await connect(values);
  const { client } = conn;
  switch (action) {
    case "add": {
      const eventTypes = values.types?.split(",").map((t) => t.trim()).filter((t) => t.length > 0) as EventType[] | undefined;
      const w = await client.createWebhook(need("a URL"), { ...(eventTypes && { eventTypes }) });
      print(conn, w, `${describeWebhook(w)}\n${w.secret}\n(the signing secret, shown once)`);
      return 0;
    }
    case "ls": {
      const hooks = await client.listWebhooks();
      if (conn.json) for (const w of hooks) print(conn, w, "");
      else for (const w of hooks) process.stdout.write(`${describeWebhook(w)}\n`);
      return 0;
    }
    case "rm": {
      const id = need("a webhook id");
      await client.deleteWebhook(id);
      print(conn, { id, deleted: true }, `deleted ${id}`);
      return 0;
    }
    case "test": {
      const r = await client.testWebhook(need("a webhook id"));
      print(conn, r, `${r.ok ? "ok" : "failed"}: ${r.status ?? "no answer"} in ${r.latencyMs} ms${r.error ? ` (${r.error})` : ""}${r.responseHead ? `\n${r.responseHead}` : ""}`);
      return r.ok ? 0 : 1;
    }
    case "deliveries": {
      const page = await client.listDeliveries(need("a webhook id"), { ...(values.limit !== undefined && { limit: wholeNumber(values.limit, "--limit") }) });
      if (conn.json) for (const a of page.items) print(conn, a, "");
      else
        for (const a of page.items)
          process.stdout.write(`${a.at}  ${a.eventId}  #${a.attempt}  ${a.status ?? "---"}  ${a.latencyMs} ms${a.error ? `  ${a.error}` : ""}\n`);
      return 0;
    }
    case "rotate": {
      const overlapSeconds = wholeNumber(values.overlap, "--overlap", 0);
      const w = await client.rotateWebhookSecret(need("a webhook id"), { ...(overlapSeconds !== undefined && { overlapSeconds }) });
      print(conn, w, `${w.secret}\n(the new signing secret, shown once; the old one signs too until ${w.previousSecretExpiresAt ?? "now"})`);
      return 0;
    }
    case "resume": {
      const w = await client.resumeWebhook(need("a webhook id"));
      print(conn, w, describeWebhook(w));
      return 0;
    }
    case "redeliver": {
      const id = need("a webhook id");
      const selection = values.event ? { eventId: values.event } : values.since && values.until ? { since: values.since, until: values.until } : undefined;
      if (!selection) throw new UsageError("give --event <id>, or --since and --until");
      const n = await client.redeliver(id, selection);
      print(conn, { redelivering: n }, `redelivering ${n}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown webhooks action "${action}"\n\n${WEBHOOKS_USAGE}`);
  }
}
