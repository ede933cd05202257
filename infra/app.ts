/**
 * `npx cdk deploy` entry (see cdk.json and docs/aws.md). Choices come from
 * context: `-c metadata=dynamodb|postgres -c ticketStore=dynamodb|memcached -c viaQueue=true|false
 * -c corsOrigins=https://a,https://b`,
 * `-c edge=true -c region=eu-west-3` for CloudFront with Lambda@Edge in front of staging, and
 * `-c eventBus=<name>` to publish every event to that EventBridge bus.
 */
import path from "node:path";
import { App } from "aws-cdk-lib";
import { Code } from "aws-cdk-lib/aws-lambda";
import { edgeAssetDir } from "./edge-asset.js";
import { SluiceStack } from "./sluice-stack.js";

const app = new App();
const context = (name: string, fallback: string) => String(app.node.tryGetContext(name) ?? fallback);
const ticketStore = context("ticketStore", "dynamodb");
if (ticketStore !== "dynamodb" && ticketStore !== "memcached") throw new Error("ticketStore must be dynamodb or memcached");
// DynamoDB by default: the stack makes the table, so a deploy needs no database and no VPC.
const metadata = context("metadata", "dynamodb");
if (metadata !== "dynamodb" && metadata !== "postgres") throw new Error("metadata must be dynamodb or postgres");
new SluiceStack(app, context("stackName", "Sluice"), {
  code: Code.fromAsset(path.resolve(import.meta.dirname, "../dist/lambda")),
  ticketStore,
  metadata,
  viaQueue: context("viaQueue", "true") === "true",
  corsOrigins: context("corsOrigins", "*").split(","),
  ...(context("eventBus", "") && { eventBus: context("eventBus", "") }),
  ...(context("edge", "false") === "true" && {
    // Lambda@Edge needs the stack's region known when it is synthesized.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: context("region", process.env.CDK_DEFAULT_REGION ?? "") || undefined },
    edgeCode: (settings) => Code.fromAsset(edgeAssetDir(settings, path.resolve(import.meta.dirname, "../dist/lambda-edge"))),
  }),
});
