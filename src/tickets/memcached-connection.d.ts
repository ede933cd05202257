/** The `memcached` library's connection-issue bookkeeping (`lib/connection.js`), which its type definitions do not cover. */
declare module "memcached/lib/connection.js" {
  interface IssueLog {
    config: Record<string, unknown>;
    details: unknown;
    messages: string[];
    failed: boolean;
    isScheduledToReconnect: boolean;
    totalReconnectsAttempted: number;
    totalReconnectsSuccess: number;
    emit(event: string, details: unknown): boolean;
  }
  const connection: { IssueLog: { prototype: IssueLog & { attemptReconnect: (this: IssueLog) => void } } };
  export default connection;
}
