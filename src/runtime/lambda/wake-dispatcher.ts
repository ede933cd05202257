/**
 * Wakes the dispatcher function right after processing: an asynchronous invoke
 * (`InvocationType: "Event"`), so the processor neither waits for receivers nor needs a route
 * to them. A failed invoke is logged and nothing more: the dispatcher's schedule (every
 * minute) sends what this one would have.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { AwsServiceConfig } from "../../config.js";
import type { Logger } from "../../internal/logger.js";

/** What the dispatcher receives when it is woken (a scheduled run receives EventBridge's event instead). */
export interface WakeEvent {
  source: "sluice.wake";
  /** Which handler woke it: `s3`, `sqs` or `reconcile`. */
  by: string;
}

export class DispatcherWaker {
  readonly #client: LambdaClient;
  readonly #functionName: string;
  readonly #logger: Logger;

  constructor(options: { config: AwsServiceConfig & { functionName: string }; logger: Logger }) {
    const { config } = options;
    this.#client = new LambdaClient({
      region: config.region,
      ...(config.endpoint && { endpoint: config.endpoint }),
      ...(config.credentials && { credentials: config.credentials }),
      maxAttempts: 2,
    });
    this.#functionName = config.functionName;
    this.#logger = options.logger;
  }

  async wake(by: string): Promise<boolean> {
    const event: WakeEvent = { source: "sluice.wake", by };
    try {
      const out = await this.#client.send(
        new InvokeCommand({ FunctionName: this.#functionName, InvocationType: "Event", Payload: new TextEncoder().encode(JSON.stringify(event)) }),
        { abortSignal: AbortSignal.timeout(5000) },
      );
      return out.StatusCode === 202;
    } catch (err) {
      this.#logger.warn({ err, functionName: this.#functionName }, "could not wake the dispatcher; its schedule will send the events");
      return false;
    }
  }

  close(): void {
    this.#client.destroy();
  }
}
