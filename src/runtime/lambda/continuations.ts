/**
 * Hands a job whose invocation ran out of time mid-copy to the next one: a message on the
 * continuation queue (`SLUICE_CONTINUE_QUEUE`), which the `continue` function consumes
 * (`handlers.ts`). The job itself is already released and due (its progress is in the
 * metadata store), so a message that is lost only delays it until the reconcile sweep.
 */
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { AwsServiceConfig } from "../../config.js";
import { continueMessage } from "./continue-message.js";

export class ContinuationSender {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(config: AwsServiceConfig & { queueUrl: string }) {
    this.#client = new SQSClient({
      region: config.region,
      ...(config.endpoint && { endpoint: config.endpoint }),
      ...(config.credentials && { credentials: config.credentials }),
      maxAttempts: 3,
    });
    this.#queueUrl = config.queueUrl;
  }

  async send(uploadId: string): Promise<void> {
    await this.#client.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: JSON.stringify(continueMessage(uploadId)) }), {
      abortSignal: AbortSignal.timeout(10_000),
    });
  }
}
