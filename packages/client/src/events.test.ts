import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventStreamParser, readEventStream, type ServerSentEvent } from "./events.js";

function parse(chunks: string[]): { events: ServerSentEvent[]; retries: number[] } {
  const events: ServerSentEvent[] = [];
  const retries: number[] = [];
  const parser = new EventStreamParser({ onEvent: (e) => events.push(e), onRetry: (ms) => retries.push(ms) });
  for (const chunk of chunks) parser.feed(chunk);
  return { events, retries };
}

describe("EventStreamParser", () => {
  it("reads events, ids, retry hints and comments, whatever the line ends and chunk borders", () => {
    const stream = 'event: state\ndata: {"a":1}\nretry: 1000\n\n: keep-alive\n\nevent: upload.archived\r\ndata: line one\r\ndata:line two\rid: evt_1\r\n\r\ndata: plain\n\n';
    const whole = parse([stream]);
    assert.deepEqual(whole.events, [
      { event: "state", data: '{"a":1}', id: undefined },
      { event: "upload.archived", data: "line one\nline two", id: "evt_1" },
      { event: "message", data: "plain", id: "evt_1" },
    ]);
    assert.deepEqual(whole.retries, [1000]);
    // Byte by byte: a \r\n split across chunks is one line end, not two.
    assert.deepEqual(parse([...stream]).events, whole.events);
  });

  it("dispatches nothing for an event without data, nor for an unfinished one", () => {
    assert.deepEqual(parse(["event: ping\n\n", "data: half"]).events, []);
  });
});

describe("readEventStream", () => {
  it("stops reading when told to, and keeps the last id", async () => {
    const body = new Response("id: evt_1\ndata: a\n\nid: evt_2\ndata: b\n\ndata: c\n\n");
    const seen: string[] = [];
    const result = await readEventStream(body, { onEvent: (e) => (seen.push(e.data), e.data === "b" ? "stop" : undefined) });
    assert.deepEqual(seen, ["a", "b"]);
    assert.deepEqual(result, { stopped: true, lastEventId: "evt_2" });
  });
});
