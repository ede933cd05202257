import type { Hash } from "node:crypto";
import { SluiceError, badRequest, tooLarge } from "../errors.js";

export interface MeteredBodyOptions {
  /** Exactly this many bytes must arrive: more fails with 413 the moment it is seen, fewer with 400 at the end. */
  size: number;
  /**
   * `size` is a ceiling, not a promise: a body that ends early ends normally (a tus PATCH sent
   * chunked carries any number of bytes up to what the upload still lacks).
   */
  upTo?: boolean | undefined;
  /** Fed every byte on the way, when the client promised a SHA-256. */
  hash?: Hash | undefined;
  /**
   * The longest wait for the client's next byte, in ms, counted only while storage is asking
   * for one (a slow store pauses the socket; that is not the client's stall).
   */
  idleTimeoutMs: number;
}

export interface MeteredBody {
  body: ReadableStream<Uint8Array>;
  /**
   * True while the upload is alive: the body has not failed, and Sluice is not waiting for a
   * byte or has waited less than the idle timeout. A claim on the upload is renewed only then.
   */
  flowing(): boolean;
  /** Stops the watchdog; call when the upload is over, however it ended. */
  stop(): void;
}

/**
 * A gateway upload's body, passed on chunk by chunk as storage reads it. One stage that holds
 * the body to its declared length, hashes it, and drops it with `408 body_timeout` when no byte
 * comes for `idleTimeoutMs` while storage waits for one (nginx's `client_body_timeout`), so that
 * a client that stops sending frees its URL instead of holding it until it expires.
 * Pull-based (high-water mark 0): a byte is asked for only when storage wants one, which is
 * what lets the watchdog tell a stalled client from a slow store.
 */
export function meterBody(source: ReadableStream<Uint8Array>, options: MeteredBodyOptions): MeteredBody {
  const { size, hash, idleTimeoutMs, upTo = false } = options;
  const reader = source.getReader();
  let seen = 0;
  /** When storage began waiting for the next byte; undefined while it is not waiting. */
  let waitingSince: number | undefined;
  let finished = false;
  /** The body failed (stalled, too long, cut short): nothing is worth holding a claim for. */
  let failed = false;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    if (watchdog !== undefined) clearInterval(watchdog);
    watchdog = undefined;
  };
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, err: SluiceError) => {
    if (finished) return;
    finished = true;
    failed = true;
    stop();
    controller.error(err);
    reader.cancel(err).catch(() => undefined);
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Checked a few times per timeout (at least once a second) rather than a timer re-armed per chunk.
        watchdog = setInterval(
          () => {
            if (waitingSince !== undefined && Date.now() - waitingSince >= idleTimeoutMs) {
              fail(controller, new SluiceError(408, "body_timeout", `No byte of the body arrived for ${Math.round(idleTimeoutMs / 1000)} s; the upload was dropped. Send it again.`));
            }
          },
          Math.max(50, Math.min(1000, idleTimeoutMs / 4)),
        );
      },
      async pull(controller) {
        waitingSince = Date.now();
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          waitingSince = undefined;
          if (!finished) {
            finished = true;
            failed = true;
            stop();
            controller.error(err);
          }
          return;
        }
        waitingSince = undefined;
        if (finished) return;
        if (next.done) {
          if (seen < size && !upTo) return fail(controller, badRequest("length_mismatch", `The body ended after ${seen} of ${size} bytes.`));
          finished = true;
          stop();
          controller.close();
          return;
        }
        const chunk = next.value;
        seen += chunk.byteLength;
        if (seen > size) return fail(controller, tooLarge(`The body is longer than the ${size} bytes declared.`));
        hash?.update(chunk);
        controller.enqueue(chunk);
      },
      cancel(reason) {
        finished = true;
        stop();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return {
    body,
    flowing: () => !failed && (waitingSince === undefined || Date.now() - waitingSince < idleTimeoutMs),
    stop,
  };
}

/**
 * A body's declared length (Content-Length) against the length it must have, told before a
 * byte is read, by the rule the meter holds the bytes to as they flow: longer is 413, any
 * other difference 400. A body that declares none (chunked) is held by the meter alone.
 */
export function checkDeclaredLength(declared: number | undefined, size: number, describe: (declared: number) => string = (d) => `The body is ${d} bytes; ${size} were declared.`): void {
  if (declared === undefined || declared === size) return;
  if (declared > size) throw tooLarge(describe(declared));
  throw badRequest("length_mismatch", describe(declared));
}

/** The body of a request that sent none. */
export function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}
