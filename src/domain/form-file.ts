import { SluiceError, badRequest, sluiceError } from "../errors.js";

/** The most the fields before the file may take: a POST policy's fields are a few hundred bytes. */
const MAX_FIELDS_BYTES = 64 * 1024;
/** More than any envelope this reader takes (fields, the file's headers, the closing boundary). */
export const MAX_FORM_ENVELOPE_BYTES = 2 * MAX_FIELDS_BYTES;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface FormFile {
  /** The file's exact length, known before its first byte is read (storage needs it). */
  length: number;
  /** The file's bytes only. It errors, and never closes, if the form does not end as it must. */
  body: ReadableStream<Uint8Array>;
}

const invalidForm = (message: string) => badRequest("invalid_form", message);

/**
 * The file of a `multipart/form-data` POST in the one shape S3's POST policy uploads take,
 * which is what Uppy's aws-s3 sends (`buildPostPolicyForm`): a few small fields, then the
 * `file` field last (S3 ignores anything after it). Because the file is last and the request
 * has a Content-Length, the file's length is the Content-Length less the envelope before it
 * and the closing delimiter after it; so the bytes stream straight to storage with their exact
 * length, in constant memory, instead of being buffered as a general form parser would (and
 * Node's stream-based parsers would not run on the Workers runtime). The closing delimiter is
 * checked before the file's last bytes are passed on, so that a form that does not end as
 * computed stores nothing.
 */
export async function openFormFile(
  source: ReadableStream<Uint8Array>,
  options: { contentType: string | undefined; contentLength: number | undefined; idleTimeoutMs: number },
): Promise<FormFile> {
  const boundary = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(options.contentType ?? "");
  const token = boundary?.[1] ?? boundary?.[2];
  if (!token) throw sluiceError("unsupported_media_type", "Send the form as multipart/form-data with a boundary, as a browser does.");
  if (options.contentLength === undefined) throw sluiceError("length_required", "A form upload needs a Content-Length header.");
  const delimiter = encoder.encode(`\r\n--${token}`);
  const closing = encoder.encode(`\r\n--${token}--\r\n`);
  const reader = source.getReader();

  const readChunk = async (): Promise<Uint8Array | undefined> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SluiceError(408, "body_timeout", `No byte of the form arrived for ${Math.round(options.idleTimeoutMs / 1000)} s; the upload was dropped. Send it again.`)), options.idleTimeoutMs);
    });
    try {
      const next = await Promise.race([reader.read(), stalled]);
      return next.done ? undefined : next.value;
    } finally {
      clearTimeout(timer);
    }
  };

  // The envelope before the file: "--boundary\r\n", then parts of headers and a value, up to
  // the headers of the part named "file".
  let head: Uint8Array = new Uint8Array(0);
  let fileStart: number | undefined;
  let partStart = 0;
  try {
    while (fileStart === undefined) {
      const chunk = await readChunk();
      if (!chunk) throw invalidForm("The form ended before its file field.");
      head = concat(head, chunk);
      if (partStart === 0) {
        const opening = encoder.encode(`--${token}\r\n`);
        if (head.length < opening.length) continue;
        if (!startsWith(head, opening, 0)) throw invalidForm("The form does not start with its boundary.");
        partStart = opening.length;
      }
      for (;;) {
        const headersEnd = indexOf(head, encoder.encode("\r\n\r\n"), partStart);
        if (headersEnd < 0) break;
        const headers = decoder.decode(head.subarray(partStart, headersEnd));
        if (/^content-disposition:[^\r\n]*;\s*name="?file"?(\s*;|\s*$)/im.test(headers)) {
          fileStart = headersEnd + 4;
          break;
        }
        const next = indexOf(head, delimiter, headersEnd + 4);
        if (next < 0 || head.length < next + delimiter.length + 2) break;
        partStart = next + delimiter.length + 2; // past the delimiter's CRLF
      }
      if (fileStart === undefined && head.length > MAX_FIELDS_BYTES) throw invalidForm(`The fields before the file take more than ${MAX_FIELDS_BYTES / 1024} KiB.`);
    }
  } catch (err) {
    await reader.cancel(err).catch(() => undefined);
    throw err;
  }

  const length = options.contentLength - fileStart - closing.length;
  if (length < 0) throw invalidForm("The form's Content-Length is shorter than its envelope.");
  let pending: Uint8Array | undefined = head.subarray(fileStart);
  let left = length;
  let tail: Uint8Array = new Uint8Array(0);

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk = pending;
        pending = undefined;
        // A pull that passes nothing on is not called again: read until there is something.
        while (!chunk?.length && left > 0) {
          const next = await reader.read();
          if (next.done) return controller.error(invalidForm(`The form ended ${left} bytes before its file did.`));
          chunk = next.value;
        }
        chunk ??= new Uint8Array(0);
        if (chunk.length < left) {
          left -= chunk.length;
          controller.enqueue(chunk);
          return;
        }
        // The file ends in this chunk: the rest must be the closing delimiter, and nothing after it.
        const last = chunk.subarray(0, left);
        tail = concat(tail, chunk.subarray(left));
        left = 0;
        for (;;) {
          if (tail.length > closing.length) return controller.error(invalidForm("The form goes on after its file field; the file must be the last field."));
          const more = await reader.read();
          if (more.done) break;
          tail = concat(tail, more.value);
        }
        if (tail.length !== closing.length || !startsWith(tail, closing, 0)) return controller.error(invalidForm("The form does not end with its closing boundary right after the file."));
        if (last.length > 0) controller.enqueue(last);
        controller.close();
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { length, body };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function startsWith(haystack: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (haystack.length - at < needle.length) return false;
  for (let i = 0; i < needle.length; i++) if (haystack[at + i] !== needle[i]) return false;
  return true;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle, from);
}
