import { notFound } from "../errors.js";
import type { UploadRecord, UploadState } from "../metadata/metadata-store.js";
import type { Ticket, TicketState } from "../tickets/ticket-store.js";
import { guard } from "./backend-calls.js";
import type { Services } from "./services.js";
import { TOKEN_METADATA_KEY } from "./tokens.js";

/** An upload's state as clients see it: from its record once the bytes arrived, from its ticket before. */
export interface UploadStatus {
  id: string;
  state: UploadState;
  key: string;
  reason: string | null;
  /** Set once the bytes arrived and the upload became a file. */
  arrived: boolean;
  expiresAt: number;
  createdAt: number;
  /** The browser upload token that issued it, if one did (`TOKEN_METADATA_KEY` in its metadata). */
  tokenId?: string | undefined;
  /** A multipart upload's plan, while it takes parts. */
  multipart?: { partSize: number; partCount: number } | undefined;
}

/** What one read of an upload found: its state and, before its bytes arrived, its ticket. */
export interface UploadRead {
  status: UploadStatus;
  ticket: Ticket | undefined;
}

export async function getUploadStatus(s: Services, id: string): Promise<UploadStatus> {
  return (await readUpload(s, id)).status;
}

/** An upload's state and, before its bytes arrived, its ticket: one read of each store at most. */
export async function readUpload(s: Services, id: string): Promise<UploadRead> {
  const record = await guard("metadata store", () => s.metadata.getUpload(id));
  if (record) return { status: statusOfRecord(record), ticket: undefined };
  const entry = await guard("ticket store", () => s.tickets.get(id));
  if (!entry || entry.ticket.kind !== "upload") throw notFound(`Upload ${id}`);
  return { status: statusOfTicket(s, entry.ticket, entry.state), ticket: entry.ticket };
}

export function statusOfTicket(s: Pick<Services, "now">, ticket: Ticket, state: TicketState): UploadStatus {
  const { id } = ticket;
  const base = {
    id,
    key: ticket.key,
    arrived: false,
    expiresAt: ticket.expiresAt,
    createdAt: ticket.createdAt,
    ...tokenOf(ticket.metadata),
    // A tus upload's parts are Sluice's own affair: its client sends PATCHes, not parts.
    ...(ticket.multipart && ticket.protocol !== "tus" && { multipart: { partSize: ticket.multipart.partSize, partCount: ticket.multipart.partCount } }),
  };
  switch (state) {
    case "claimed":
      return { ...base, state: "uploading", reason: null };
    case "revoked":
      return { ...base, state: "cancelled", reason: "cancelled by the client" };
    case "consumed":
      // Used, but not recorded (yet): the gateway or an event is recording it right now.
      return { ...base, state: "uploaded", reason: null };
    case "issued":
      return ticket.expiresAt <= s.now()
        ? { ...base, state: "expired", reason: "the upload URL expired before any bytes arrived" }
        : { ...base, state: "issued", reason: null };
  }
}

export function statusOfRecord(r: UploadRecord): UploadStatus {
  return { id: r.id, state: r.state, key: r.key, reason: r.reason, arrived: true, expiresAt: r.expiresAt, createdAt: r.createdAt, ...tokenOf(r.metadata) };
}

const tokenOf = (metadata: Record<string, string>) => {
  const tokenId = metadata[TOKEN_METADATA_KEY];
  return tokenId === undefined ? {} : { tokenId };
};
