import { newId, newSecret, sha256Hex } from "../internal/crypto.js";
import type { ApiKeyRecord, KeyScope, MetadataStore } from "../metadata/metadata-store.js";
import type { KeyLiveness } from "./revocation.js";
import type { Principal } from "./principal.js";
import type { UrlSigner } from "./signing.js";
import { readToken } from "./tokens.js";
import { unauthorized } from "../errors.js";

/** How long an answer about a key is cached: revocation reaches every instance within this. */
export const KEY_CACHE_MS = 3_000;
const KEY_CACHE_MAX = 10_000;

/**
 * API keys are random 256-bit secrets (`sk_…`). Only their SHA-256 is stored: the keys are
 * high-entropy, so a fast hash is enough, and lookup by hash means the secret itself is never
 * compared byte by byte (no timing leak).
 */
export function generateApiKey(): string {
  return `sk_${newSecret(32)}`;
}

export async function createApiKey(metadata: MetadataStore, options: { name: string; now: number; scope?: KeyScope | null }): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = generateApiKey();
  const scope = options.scope && Object.values(options.scope).some((v) => v !== undefined) ? options.scope : null;
  const record: ApiKeyRecord = { id: newId("key"), name: options.name, hash: sha256Hex(key), prefix: key.slice(0, 10), createdAt: options.now, revokedAt: null, scope };
  await metadata.insertApiKey(record);
  return { key, record };
}

export class ApiKeyAuthenticator implements KeyLiveness {
  readonly #metadata: MetadataStore;
  readonly #configured: Map<string, Principal>;
  readonly #configuredIds: Set<string>;
  readonly #cache = new Map<string, { principal: Principal | undefined; until: number }>();
  readonly #liveById = new Map<string, { live: boolean; until: number }>();
  readonly #now: () => number;
  readonly #tokenSigner: UrlSigner | undefined;

  /** `tokenSigner`: verifies browser upload tokens (the URL signer); without it, tokens are refused. */
  constructor(options: { metadata: MetadataStore; configuredKeys: readonly string[]; tokenSigner?: UrlSigner; now?: () => number }) {
    this.#metadata = options.metadata;
    this.#now = options.now ?? Date.now;
    this.#tokenSigner = options.tokenSigner;
    this.#configured = new Map(options.configuredKeys.map((k) => [sha256Hex(k), { kind: "key" as const, keyId: `env:${sha256Hex(k).slice(0, 8)}` }]));
    this.#configuredIds = new Set([...this.#configured.values()].map((p) => p.keyId));
  }

  /**
   * Whether the key with this id still stands, cached like `authenticate` (a revocation is
   * seen within the same few seconds). A configured key stands while it is configured; a
   * stored one until it is revoked. Ids of any other form name no key that can be revoked.
   */
  async isLive(keyId: string): Promise<boolean> {
    if (keyId.startsWith("env:")) return this.#configuredIds.has(keyId);
    if (!keyId.startsWith("key_")) return true;
    const now = this.#now();
    const cached = this.#liveById.get(keyId);
    if (cached && cached.until > now) return cached.live;
    const record = await this.#metadata.getApiKey(keyId);
    const live = record !== undefined && record.revokedAt === null;
    if (this.#liveById.size >= KEY_CACHE_MAX) this.#liveById.clear();
    this.#liveById.set(keyId, { live, until: now + KEY_CACHE_MS });
    return live;
  }

  /**
   * The answer for a configured key or one cached in the last few seconds, without touching
   * the store (and without a promise: this is on every request's path). Undefined: ask `authenticate`.
   */
  cached(key: string): { principal: Principal | undefined } | undefined {
    const hash = sha256Hex(key);
    const configured = this.#configured.get(hash);
    if (configured) return { principal: configured };
    const cached = this.#cache.get(hash);
    return cached && cached.until > this.#now() ? { principal: cached.principal } : undefined;
  }

  /**
   * Forgets what this instance cached about a key, so that a revocation made here holds here at
   * once (other instances see it when their cache lapses, within `KEY_CACHE_MS`).
   */
  forget(keyId: string): void {
    this.#liveById.delete(keyId);
    for (const [hash, entry] of this.#cache) if (entry.principal?.keyId === keyId) this.#cache.delete(hash);
  }

  /**
   * A browser upload token's principal: signature and expiry checked here without a store, then
   * whether the key that minted it still stands (cached like any key, so a revoked key's tokens
   * stop within the same few seconds). Throws 401 saying which check failed.
   */
  async authenticateToken(token: string): Promise<Principal> {
    if (!this.#tokenSigner) throw unauthorized("Browser upload tokens are not accepted here.");
    const principal = readToken(this.#tokenSigner, token, this.#now());
    if (!(await this.isLive(principal.keyId))) throw unauthorized("The API key that minted this browser upload token was revoked.");
    return principal;
  }

  /** The key's principal, or undefined if the key is unknown or revoked. Throws if the store is down. */
  async authenticate(key: string): Promise<Principal | undefined> {
    const hash = sha256Hex(key);
    const configured = this.#configured.get(hash);
    if (configured) return configured;
    const now = this.#now();
    const cached = this.#cache.get(hash);
    if (cached && cached.until > now) return cached.principal;
    const record = await this.#metadata.findApiKeyByHash(hash);
    const principal = record && record.revokedAt === null ? { kind: "key" as const, keyId: record.id, ...(record.scope && { scope: record.scope }) } : undefined;
    if (this.#cache.size >= KEY_CACHE_MAX) this.#cache.clear(); // bounded: a flood of wrong keys cannot grow it
    this.#cache.set(hash, { principal, until: now + KEY_CACHE_MS });
    return principal;
  }
}

/**
 * With no key configured and none ever stored, the first start creates one and returns it
 * so that it can be shown once. Returns undefined when keys exist (even if all are revoked:
 * an operator who revoked every key meant it).
 */
export async function bootstrapApiKey(metadata: MetadataStore, options: { configuredKeys: readonly string[]; now: number }): Promise<string | undefined> {
  if (options.configuredKeys.length > 0) return undefined;
  if ((await metadata.listApiKeys()).length > 0) return undefined;
  const { key } = await createApiKey(metadata, { name: "bootstrap", now: options.now });
  return key;
}
