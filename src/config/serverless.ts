/** What only the AWS stack sets: the dispatcher function the processor wakes, the EventBridge bus events are published to, and the queue that carries unfinished copies on. */
import { z } from "zod";
import type { AwsConnection } from "./aws.js";
import { httpUrl } from "./fields.js";
import type { AwsServiceConfig, ServerlessConfig } from "./types.js";

export const serverlessFields = {
  SLUICE_DISPATCHER_FUNCTION: z.string().min(1).max(170).optional(),
  AWS_ENDPOINT_URL_LAMBDA: httpUrl().optional(),
  SLUICE_EVENTBRIDGE_BUS: z
    .string()
    .regex(/^(arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/)?[A-Za-z0-9._/-]{1,256}$/, "expected an event bus name (or ARN), such as default or sluice-events")
    .optional(),
  AWS_ENDPOINT_URL_EVENTBRIDGE: httpUrl().optional(),
  SLUICE_CONTINUE_QUEUE: httpUrl().optional(),
  AWS_ENDPOINT_URL_SQS: httpUrl().optional(),
};

type ServerlessEnv = z.output<z.ZodObject<typeof serverlessFields>>;

export function parseServerless(e: ServerlessEnv, aws: AwsConnection): ServerlessConfig {
  const service = (endpoint: string | undefined): AwsServiceConfig => ({ region: aws.region, endpoint: endpoint ?? aws.endpoint, credentials: aws.credentials });
  return {
    dispatcher: e.SLUICE_DISPATCHER_FUNCTION ? { functionName: e.SLUICE_DISPATCHER_FUNCTION, ...service(e.AWS_ENDPOINT_URL_LAMBDA) } : undefined,
    eventBridge: e.SLUICE_EVENTBRIDGE_BUS ? { bus: e.SLUICE_EVENTBRIDGE_BUS, ...service(e.AWS_ENDPOINT_URL_EVENTBRIDGE) } : undefined,
    continueQueue: e.SLUICE_CONTINUE_QUEUE ? { queueUrl: e.SLUICE_CONTINUE_QUEUE, ...service(e.AWS_ENDPOINT_URL_SQS) } : undefined,
  };
}
