/**
 * `sluice events tail`: follows the pull feed (`GET /v1/events`) with long polling, printing
 * each event as it is committed, for as long as it runs.
 */
import { parseArgs } from "node:util";
import { SluiceApiError, type EventType, type SluiceEvent } from "@sluice/client/node";
import { CONNECTION_HELP, CONNECTION_OPTIONS, UsageError, connect } from "./client-commands.js";

export const EVENTS_USAGE = `Usage: sluice events tail [options]

Follows the events feed: prints every event (upload.archived, upload.rejected,
upload.failed, upload.expired, file.deleted) in the order it was committed, waiting for new
ones, until interrupted. On Ctrl-C it prints the cursor to resume from (on stderr). A key
scoped to a prefix sees only the events of its own files.

Options:
  --after <cursor>   start after this cursor (default: the oldest event the server keeps)
  --types <list>     only these types, e.g. upload.archived,upload.rejected
  --wait <s>         seconds each request waits for new events (default 20, at most 30)
${CONNECTION_HELP}
`;

export async function eventsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...CONNECTION_OPTIONS, after: { type: "string" }, types: { type: "string" }, wait: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const [action] = positionals;
  if (values.help) {
    process.stdout.write(EVENTS_USAGE);
    return 0;
  }
  if (action !== "tail") throw new UsageError(`${action === undefined ? "missing action" : `unknown events action "${action}"`}\n\n${EVENTS_USAGE}`);
  if (values.wait !== undefined && !/^\d+$/.test(values.wait)) throw new UsageError("--wait must be whole seconds");
  const types = values.types?.split(",").map((t) => t.trim()).filter((t) => t.length > 0) as EventType[] | undefined;
  const conn = await connect(values);
  const stop = new AbortController();
  const interrupted = () => stop.abort();
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  let cursor = values.after;
  try {
    const events = conn.client.tailEvents({
      ...(cursor !== undefined && { after: cursor }),
      ...(types?.length && { types }),
      ...(values.wait !== undefined && { wait: Number(values.wait) }),
      signal: stop.signal,
      onCursor: (c) => {
        cursor = c;
      },
    });
    for await (const event of events) process.stdout.write(`${conn.json ? JSON.stringify(event) : describeEvent(event)}\n`);
    return 0;
  } catch (err) {
    if (!(stop.signal.aborted && err instanceof SluiceApiError && err.code === "aborted")) throw err;
    if (cursor !== undefined) process.stderr.write(`sluice: stopped; resume with --after ${cursor}\n`);
    return 0;
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
  }
}

function describeEvent(e: SluiceEvent): string {
  const d = e.data;
  const detail = d.reason ? `: ${d.reason}` : d.state === "archived" ? ` (${d.contentType ?? d.declaredContentType}, ${d.size} B${d.sha256 ? `, sha256 ${d.sha256.slice(0, 12)}…` : ""})` : "";
  return `${e.timestamp}  ${e.type.padEnd(15)}  ${d.uploadId}  ${d.key}${detail}`;
}
