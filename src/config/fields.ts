/** The building blocks every backend's settings are parsed with, and the registry that documents them. */
import { z } from "zod";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export const wholeNumber = (what: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected ${what} of at least ${min}`).max(max, `expected ${what} of at most ${max}`));

/** Comma-separated, blanks dropped. */
export const list = () =>
  z
    .string()
    .transform((s) => s.split(",").map((p) => p.trim()).filter((p) => p.length > 0));

export const httpUrl = () => z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });

export const bucketName = () => z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected a bucket name");

export const secret = (name: string) => z.string().min(16, `${name} must be at least 16 characters long`);

/** A URL with one of these protocols and a host; the URL's other parts are the driver's to read. */
export function isUrl(value: string, protocols: string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.hostname !== "";
  } catch {
    return false;
  }
}
