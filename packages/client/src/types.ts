/**
 * The API's shapes, named for the client. Each is the generated wire type (./wire.ts, from the
 * server's OpenAPI document), never a copy: a change to the API changes these on regeneration.
 */
import type { components } from "./wire.js";

type Schemas = components["schemas"];

export type UploadState = Schemas["UploadState"];
/** What `POST /v1/uploads` takes, `method` (PUT, POST form or STS credentials) included. */
export type UploadRequest = Schemas["UploadRequest"];
export type MultipartPlan = Schemas["MultipartPlan"];
/** The answer to `POST /v1/uploads`: `upload`, `multipart` or `credentials` says how to send the bytes. */
export type IssuedUpload = Schemas["IssuedUpload"];
/** Scoped STS credentials, for `method: "credentials"`. */
export type UploadCredentials = NonNullable<IssuedUpload["credentials"]>;
export type UploadInstructions = NonNullable<IssuedUpload["upload"]>;
export type PartUrl = Schemas["PartUrls"]["parts"][number];
export type StoredPart = Schemas["StoredParts"]["parts"][number];
export type CompleteRequest = Schemas["CompleteRequest"];
export type UploadStatus = Schemas["Upload"];
export type FileInfo = Schemas["File"];
export type FileList = Schemas["FileList"];
export type Download = Schemas["Download"];
/**
 * What a scoped key may do; every field narrows the service's own limits. (The document marks
 * the schema itself nullable, because a key's `scope` is null for a full key.)
 */
export type ApiKeyScope = NonNullable<Schemas["ApiKeyScope"]>;
export type ApiKeyInfo = Schemas["ApiKey"];
/** A new key: the key itself is in this answer only. */
export type NewApiKey = Schemas["NewApiKey"];

/** What `GET /v1/limits` says: the server's limits, multipart sizes, upload methods and endpoints. */
export type Limits = Schemas["Limits"];
/** What `POST /v1/tokens` takes: a browser upload token's scope, lifetime and fixed metadata. */
export type TokenRequest = Schemas["TokenRequest"];
/** A minted browser upload token: the token itself is in this answer only. */
export type BrowserToken = Schemas["BrowserToken"];

/** A webhook as listed (never its secret). */
export type Webhook = Schemas["Webhook"];
/** A new or rotated webhook: its signing secret (`whsec_…`) is in this answer only. */
export type WebhookWithSecret = Schemas["WebhookWithSecret"];
export type WebhookAttempt = Schemas["WebhookAttempt"];
export type WebhookAttemptList = Schemas["WebhookAttemptList"];
export type WebhookTestResult = Schemas["WebhookTestResult"];
export type EventType = NonNullable<Schemas["Webhook"]["eventTypes"]>[number];

/** States an upload never leaves. */
export const FINAL_STATES: readonly UploadState[] = ["archived", "rejected", "expired", "failed", "cancelled"];
