/** What the events section's parts share (bench/events.ts, bench/events-delivery.ts): the run's settings and the receiver. */
import os from "node:os";
import { spawnServer, type ServerProcess } from "../test/helpers/server.js";

export interface EventsBenchContext {
  tmp: string;
  rounds: number;
  /** Seconds of each issuance round. */
  seconds: number;
  connections: number;
  key: string;
  line(...cells: string[]): void;
  /** Sluice as the other sections start it (`npm start`'s arguments, warn level). */
  startSluice(dataDir: string, env?: Record<string, string>): Promise<ServerProcess>;
}

/** The receiver, on a free loopback port, in a process of its own. */
export const startReceiver = () => spawnServer(["--import", "tsx", "bench/webhook-receiver.ts"], {}, { awaitLog: true, awaitBanner: false, echoErrors: true });

export interface ReceiverStats {
  received: number;
  unique: number;
  /** Upload id → epoch ms when its first event arrived. */
  uploads: Record<string, number>;
}
export const receiverStats = (receiver: ServerProcess) => fetch(`${receiver.url}/stats`).then((r) => r.json() as Promise<ReceiverStats>);

export const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

