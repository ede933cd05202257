/**
 * `cdk synth` of the AWS stack, in process and offline, with assertions on the template:
 * each least-privilege policy exactly, the buckets' guards, the lifecycle rule, CORS, the
 * event source, the ticket store, the metadata (a DynamoDB table by default, PostgreSQL on
 * request), the continuation queue and the API's protection.
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { App, Stack, type CfnElement } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Code } from "aws-cdk-lib/aws-lambda";
import { METADATA_INDEX_ACTIONS, METADATA_TABLE_ACTIONS, SluiceStack, type EdgeSettings, type SluiceStackProps } from "../infra/sluice-stack.js";
import { METADATA_TABLE } from "../src/metadata/dynamodb-table.js";
import { ROOT } from "./helpers/server.js";

function synth(props: Partial<SluiceStackProps> = {}) {
  const app = new App();
  const stack = new SluiceStack(app, "Sluice", {
    code: Code.fromInline("export const http = () => {};"),
    ticketStore: "dynamodb",
    viaQueue: true,
    corsOrigins: ["https://app.example.com"],
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** The statements of every policy attached to a function's role. */
function statementsOf(template: Template, stack: SluiceStack, fn: SluiceStack["issuer"]): Statement[] {
  const role = stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);
  const policies = template.findResources("AWS::IAM::Policy");
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** Only the statements about S3: what each role may do to which bucket. */
const s3Statements = (statements: Statement[]) => statements.filter((s) => [s.Action].flat().some((a) => a.startsWith("s3:")));
/** Only the statements whose actions have this prefix (`dynamodb:`, `sqs:`, …). */
const statementsAbout = (prefix: string, statements: Statement[]) => statements.filter((s) => [s.Action].flat().some((a) => a.startsWith(prefix)));

/** The functions Sluice runs (not CDK's own custom-resource handlers). */
const sluiceFunctions = (stack: SluiceStack) => [stack.issuer, stack.processor, stack.sweeper, stack.dispatcher, stack.continuer];

/** A function's properties in the template. */
const propsOf = (template: Template, stack: SluiceStack, fn: SluiceStack["issuer"]) =>
  template.findResources("AWS::Lambda::Function")[stack.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties as {
    Handler: string;
    Runtime: string;
    Timeout: number;
    Code: unknown;
    VpcConfig?: unknown;
    Environment: { Variables: Record<string, unknown> };
  };

describe("the AWS stack (cdk synth)", () => {
  const { stack, template } = synth();
  const objects = (bucket: SluiceStack["staging"]) => stack.resolve(bucket.arnForObjects("*")) as unknown;
  const table = () => stack.resolve((stack.tickets as { tableArn: string }).tableArn) as unknown;

  it("gives the issuer exactly s3:PutObject on staging, and nothing on any other bucket", () => {
    assert.deepEqual(s3Statements(statementsOf(template, stack, stack.issuer)), [{ Effect: "Allow", Action: "s3:PutObject", Resource: objects(stack.staging) }]);
  });

  it("gives the processor exactly get and delete on staging, and put (and abort a multipart copy) on archive", () => {
    assert.deepEqual(s3Statements(statementsOf(template, stack, stack.processor)), [
      { Effect: "Allow", Action: ["s3:GetObject", "s3:DeleteObject"], Resource: objects(stack.staging) },
      { Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: objects(stack.archive) },
    ]);
  });

  it("gives the sweeper what the sweep needs: list and read staging, abort its multipart uploads, put on archive", () => {
    assert.deepEqual(s3Statements(statementsOf(template, stack, stack.sweeper)), [
      { Effect: "Allow", Action: ["s3:ListBucket", "s3:ListBucketMultipartUploads"], Resource: stack.resolve(stack.staging.bucketArn) },
      { Effect: "Allow", Action: ["s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], Resource: objects(stack.staging) },
      { Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: objects(stack.archive) },
    ]);
  });

  it("lets the functions that issue, record arrivals and sweep use the ticket table, and no other function", () => {
    const onTickets = (fn: SluiceStack["issuer"]) => statementsAbout("dynamodb:", statementsOf(template, stack, fn)).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(table()));
    for (const fn of [stack.issuer, stack.processor, stack.sweeper]) {
      assert.deepEqual(onTickets(fn), [{ Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"], Resource: table() }]);
    }
    for (const fn of [stack.dispatcher, stack.continuer]) {
      assert.deepEqual(onTickets(fn), [], fn.node.id);
      assert.equal(propsOf(template, stack, fn).Environment.Variables.SLUICE_TICKETS, "memory", "no ticket store: it reads and writes no ticket");
    }
  });

  it("runs every function on Node.js 24 (nodejs24.x)", () => {
    for (const fn of sluiceFunctions(stack)) assert.equal(propsOf(template, stack, fn).Runtime, "nodejs24.x", fn.node.id);
    // CDK's own handler (bucket notifications) is Python; no Node.js function is on another version.
    const node = Object.values(template.findResources("AWS::Lambda::Function")).map((f) => String(f.Properties.Runtime)).filter((r) => r.startsWith("nodejs"));
    assert.deepEqual([...new Set(node)], ["nodejs24.x"]);
  });

  it("gives the uploader role (scoped credentials) only the upload actions on staging, assumable by the issuer alone", () => {
    const uploader = stack.getLogicalId(stack.uploader.node.defaultChild as CfnElement);
    const role = template.findResources("AWS::IAM::Role")[uploader]!;
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
      { Action: "sts:AssumeRole", Effect: "Allow", Principal: { AWS: stack.resolve(stack.issuer.role!.roleArn) } },
    ]);
    assert.equal(role.Properties.MaxSessionDuration, 3600);
    const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === uploader));
    assert.deepEqual(
      policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]),
      [{ Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], Resource: objects(stack.staging) }],
    );
    const sts = statementsOf(template, stack, stack.issuer).filter((st) => [st.Action].flat().some((a) => a.startsWith("sts:")));
    assert.deepEqual(sts, [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: stack.resolve(stack.uploader.roleArn) }]);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.http",
      Environment: { Variables: Match.objectLike({ SLUICE_STS_ROLE_ARN: stack.resolve(stack.uploader.roleArn), SLUICE_STS_MAX_DURATION: "3600" }) },
    });
    for (const fn of [stack.processor, stack.sweeper]) {
      assert.deepEqual(statementsOf(template, stack, fn).filter((st) => [st.Action].flat().some((a) => a.startsWith("sts:"))), [], "only the issuer assumes it");
    }
  });

  it("blocks public access, encrypts and requires TLS on both buckets", () => {
    const buckets = template.findResources("AWS::S3::Bucket");
    assert.equal(Object.keys(buckets).length, 2);
    for (const b of Object.values(buckets)) {
      assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      assert.deepEqual(b.Properties.BucketEncryption, { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] });
    }
    template.resourceCountIs("AWS::S3::BucketPolicy", 2);
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) },
    });
  });

  it("lets browsers upload to staging and read each part's ETag, from the configured origins", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [{ AllowedMethods: ["PUT", "POST"], AllowedOrigins: ["https://app.example.com"], AllowedHeaders: ["*"], ExposedHeaders: ["ETag"], MaxAge: 3600 }],
      },
    });
  });

  it("aborts incomplete multipart uploads a day after SLUICE_MULTIPART_TTL, and expires nothing else in staging", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: { Rules: [{ Id: "abort-incomplete-multipart", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 }, Status: "Enabled" }] },
    });
    const buckets = Object.values(template.findResources("AWS::S3::Bucket")) as { Properties?: { LifecycleConfiguration?: { Rules?: { ExpirationInDays?: number }[] } } }[];
    const expiring = buckets.flatMap((b) => b.Properties?.LifecycleConfiguration?.Rules ?? []).filter((r) => r.ExpirationInDays !== undefined);
    assert.deepEqual(expiring, [], "storage deletes nothing the records may still call pending or failed");
    template.hasResourceProperties("AWS::Lambda::Function", { Environment: { Variables: Match.objectLike({ SLUICE_MULTIPART_TTL: "86400" }) } });
  });

  it("sends staging's object-created events through SQS, with a dead-letter queue and partial batch failures", () => {
    template.hasResourceProperties("Custom::S3BucketNotifications", {
      NotificationConfiguration: { QueueConfigurations: [{ Events: ["s3:ObjectCreated:*"], QueueArn: stack.resolve(stack.queue!.queueArn) }] },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() } });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: stack.resolve(stack.processor.functionName),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 10,
    });
    template.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.sqs" });
  });

  it("keeps tickets in DynamoDB with TTL, and tells the functions so", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.http",
      Environment: { Variables: Match.objectLike({ SLUICE_UPLOAD_MODE: "direct", SLUICE_TICKETS: { "Fn::Join": ["", ["dynamodb://", stack.resolve((stack.tickets as { tableName: string }).tableName)]] } }) },
    });
  });

  it("puts the issuer behind a throttled API that needs an API key", () => {
    template.hasResourceProperties("AWS::ApiGateway::Method", { HttpMethod: "ANY", ApiKeyRequired: true });
    template.hasResourceProperties("AWS::ApiGateway::UsagePlan", { Throttle: { RateLimit: 100, BurstLimit: 200 } });
    template.hasResourceProperties("AWS::ApiGateway::Stage", { MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })] });
    template.resourceCountIs("AWS::ApiGateway::ApiKey", 1);
  });

  it("runs the reconcile sweep on a schedule", () => {
    template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(5 minutes)", Targets: [Match.objectLike({ Arn: stack.resolve(stack.sweeper.functionArn) })] });
  });

  it("runs the dispatcher every minute, outside any VPC, with no ticket store, no S3 rights, and DynamoDB rights on the metadata table alone", () => {
    template.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(1 minute)", Targets: [Match.objectLike({ Arn: stack.resolve(stack.dispatcher.functionArn) })] });
    const fns = template.findResources("AWS::Lambda::Function");
    const dispatcher = fns[stack.getLogicalId(stack.dispatcher.node.defaultChild as CfnElement)]!;
    assert.equal(dispatcher.Properties.Handler, "index.dispatch");
    assert.equal(dispatcher.Properties.Timeout, 60);
    assert.equal(dispatcher.Properties.VpcConfig, undefined);
    assert.equal(dispatcher.Properties.Environment.Variables.SLUICE_TICKETS, "memory");
    assert.equal(dispatcher.Properties.Environment.Variables.SLUICE_EVENTBRIDGE_BUS, undefined, "no bus unless asked");
    assert.deepEqual(dispatcher.Properties.Environment.Variables.SLUICE_DATABASE, { "Fn::Join": ["", ["dynamodb://", stack.resolve(stack.metadata!.tableName)]] });
    const statements = statementsOf(template, stack, stack.dispatcher);
    assert.deepEqual(statements.filter((st) => [st.Action].flat().some((a) => /^(s3|sts|events|lambda|sqs):/.test(a))), []);
    const metadataArn = stack.resolve(stack.metadata!.tableArn) as unknown;
    assert.deepEqual(statementsAbout("dynamodb:", statements), [
      { Effect: "Allow", Action: METADATA_TABLE_ACTIONS, Resource: metadataArn },
      { Effect: "Allow", Action: "dynamodb:Query", Resource: { "Fn::Join": ["", [metadataArn, "/index/*"]] } },
    ]);
  });

  it("lets the processor, the sweeper and Continue invoke the dispatcher, and nothing else, and names it to them", () => {
    const dispatcherArn = stack.resolve(stack.dispatcher.functionArn) as unknown;
    for (const fn of [stack.processor, stack.sweeper, stack.continuer]) {
      const invoke = statementsOf(template, stack, fn).filter((st) => [st.Action].flat().some((a) => a.startsWith("lambda:")));
      assert.deepEqual(invoke, [{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: [dispatcherArn, { "Fn::Join": ["", [dispatcherArn, ":*"]] }] }]);
      const props = template.findResources("AWS::Lambda::Function")[stack.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties;
      assert.deepEqual(props.Environment.Variables.SLUICE_DISPATCHER_FUNCTION, stack.resolve(stack.dispatcher.functionName));
    }
    assert.deepEqual(statementsOf(template, stack, stack.issuer).filter((st) => [st.Action].flat().some((a) => a.startsWith("lambda:"))), [], "the issuer wakes nobody");
    template.resourceCountIs("AWS::Events::EventBus", 0);
  });

  it("outputs the API URL and the bucket names, and takes secrets as no-echo parameters", () => {
    template.hasOutput("ApiUrl", {});
    template.hasOutput("StagingBucketName", { Value: stack.resolve(stack.staging.bucketName) });
    template.hasOutput("ArchiveBucketName", { Value: stack.resolve(stack.archive.bucketName) });
    template.hasParameter("SigningSecret", { NoEcho: true, MinLength: 16 });
    template.hasParameter("AdminApiKey", { NoEcho: true, MinLength: 24 });
  });
});

describe("the AWS stack's default: serverless, with DynamoDB for tickets and metadata", () => {
  const { stack, template } = synth();
  const metadataArn = () => stack.resolve(stack.metadata!.tableArn) as unknown;

  it("has no VPC, no database parameter and nothing always on: the only parameters are the two secrets", () => {
    template.resourceCountIs("AWS::EC2::VPC", 0);
    template.resourceCountIs("AWS::EC2::VPCEndpoint", 0);
    template.resourceCountIs("AWS::ElastiCache::CacheCluster", 0);
    template.resourceCountIs("AWS::RDS::DBInstance", 0);
    template.resourceCountIs("AWS::RDS::DBCluster", 0);
    const parameters = Object.keys(template.toJSON().Parameters as object).filter((p) => p !== "BootstrapVersion");
    assert.deepEqual(parameters.sort(), ["AdminApiKey", "SigningSecret"]);
    for (const fn of sluiceFunctions(stack)) assert.equal(propsOf(template, stack, fn).VpcConfig, undefined, fn.node.id);
  });

  it("makes the metadata table exactly as src/metadata/dynamodb-table.ts declares it: pk/sk, two sparse GSIs projecting all, TTL, on demand, point-in-time recovery", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 2);
    const resources = template.findResources("AWS::DynamoDB::Table");
    const table = resources[stack.getLogicalId(stack.metadata!.node.defaultChild as CfnElement)]!;
    const { partitionKey, sortKey, indexes, ttlAttribute } = METADATA_TABLE;
    assert.deepEqual(table.Properties, {
      AttributeDefinitions: [partitionKey, sortKey, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])].map((AttributeName) => ({ AttributeName, AttributeType: "S" })),
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [
        { AttributeName: partitionKey, KeyType: "HASH" },
        { AttributeName: sortKey, KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: "HASH" },
          { AttributeName: i.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      })),
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    // As the ticket table: removed with the stack.
    const tickets = resources[stack.getLogicalId((stack.tickets as SluiceStack["metadata"] & object).node.defaultChild as CfnElement)]!;
    assert.equal(table.DeletionPolicy, tickets.DeletionPolicy);
    assert.equal(table.UpdateReplacePolicy, tickets.UpdateReplacePolicy);
  });

  it("names the table to every function as SLUICE_DATABASE=dynamodb://<table>", () => {
    for (const fn of sluiceFunctions(stack)) {
      assert.deepEqual(propsOf(template, stack, fn).Environment.Variables.SLUICE_DATABASE, { "Fn::Join": ["", ["dynamodb://", stack.resolve(stack.metadata!.tableName)]] }, fn.node.id);
    }
  });

  it("grants exactly the DynamoDB actions the stores' code calls: each command, and each kind of item in its transactions (no Scan)", async () => {
    // The stores' files (not the table's setup: the stack makes the table, so CreateTable and
    // UpdateTimeToLive never run on AWS; DescribeTable does, to find it).
    const files = (await Promise.all(["src/metadata", "src/webhooks"].map(async (dir) => (await fs.readdir(path.join(ROOT, dir))).map((f) => path.join(ROOT, dir, f)))))
      .flat()
      .filter((f) => /\/dynamodb-[a-z-]+\.ts$/.test(f) && !f.endsWith("dynamodb-table.ts") && !f.endsWith(".test.ts"));
    assert.ok(files.some((f) => f.endsWith("metadata/dynamodb-store.ts")), files.join(" "));
    const code = (await Promise.all(files.map((f) => fs.readFile(f, "utf8")))).join("\n");
    const commands = new Set([...code.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!));
    // A transaction is authorized item by item.
    const transactional = { Put: "PutItem", Update: "UpdateItem", Delete: "DeleteItem", ConditionCheck: "ConditionCheckItem" } as const;
    const needed = new Set(["DescribeTable", ...[...commands].filter((c) => c !== "TransactWriteItems")]);
    if (commands.has("TransactWriteItems")) {
      for (const [kind, action] of Object.entries(transactional)) if (new RegExp(`\\b${kind}: \\{`).test(code)) needed.add(action);
    }
    assert.ok(!needed.has("Scan"), "no store scans the table");
    assert.deepEqual([...needed].map((a) => `dynamodb:${a}`).sort(), [...METADATA_TABLE_ACTIONS].sort());
    assert.deepEqual(METADATA_INDEX_ACTIONS, ["dynamodb:Query"]);
  });

  it("gives every function those actions on the metadata table, and only Query on its indexes", () => {
    for (const fn of sluiceFunctions(stack)) {
      const onMetadata = statementsAbout("dynamodb:", statementsOf(template, stack, fn)).filter((s) => JSON.stringify(s.Resource).includes(JSON.stringify(metadataArn())));
      assert.deepEqual(onMetadata, [
        { Effect: "Allow", Action: METADATA_TABLE_ACTIONS, Resource: metadataArn() },
        { Effect: "Allow", Action: "dynamodb:Query", Resource: { "Fn::Join": ["", [metadataArn(), "/index/*"]] } },
      ], fn.node.id);
    }
  });
});

describe("the AWS stack with -c metadata=postgres (today's design)", () => {
  const { stack, template } = synth({ metadata: "postgres" });

  it("takes the database URL as a no-echo parameter and gives it to every function", () => {
    template.hasParameter("DatabaseUrl", { NoEcho: true, Type: "String" });
    for (const fn of sluiceFunctions(stack)) assert.deepEqual(propsOf(template, stack, fn).Environment.Variables.SLUICE_DATABASE, { Ref: "DatabaseUrl" }, fn.node.id);
  });

  it("makes no metadata table and grants no function anything but the ticket table in DynamoDB", () => {
    assert.equal(stack.metadata, undefined);
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResourceProperties("AWS::DynamoDB::Table", { KeySchema: [{ AttributeName: "id", KeyType: "HASH" }] });
    const tickets = stack.resolve((stack.tickets as { tableArn: string }).tableArn) as unknown;
    for (const fn of sluiceFunctions(stack)) {
      for (const st of statementsAbout("dynamodb:", statementsOf(template, stack, fn))) assert.deepEqual(st.Resource, tickets, fn.node.id);
    }
  });

  it("still needs no VPC with DynamoDB tickets (the database must be reachable from Lambda), and runs on Node.js 24", () => {
    template.resourceCountIs("AWS::EC2::VPC", 0);
    for (const fn of sluiceFunctions(stack)) assert.equal(propsOf(template, stack, fn).Runtime, "nodejs24.x");
  });
});

describe("the AWS stack's continuations: archive copies that outlive one invocation", () => {
  const { stack, template } = synth();
  const queueArn = () => stack.resolve(stack.continuations.queueArn) as unknown;
  const queues = () => template.findResources("AWS::SQS::Queue");

  it("has a Continuations queue with dead letters, kept visible longer than Continue may run", () => {
    const queue = queues()[stack.getLogicalId(stack.continuations.node.defaultChild as CfnElement)]!;
    assert.equal(queue.Properties.RedrivePolicy.maxReceiveCount, 5);
    const deadLetters = queues()[queue.Properties.RedrivePolicy.deadLetterTargetArn["Fn::GetAtt"][0] as string]!;
    assert.equal(deadLetters.Properties.MessageRetentionPeriod, 14 * 24 * 3600);
    const timeout = propsOf(template, stack, stack.continuer).Timeout;
    assert.equal(timeout, 900, "Lambda's longest: 15 minutes");
    assert.ok(queue.Properties.VisibilityTimeout >= timeout, `visibility ${queue.Properties.VisibilityTimeout} s`);
    assert.equal(queue.Properties.VisibilityTimeout, 6 * timeout, "six times the function's timeout, as AWS advises");
  });

  it("requires TLS on both continuation queues", () => {
    const deadLetters = stack.continuations.deadLetterQueue!.queue;
    for (const q of [stack.continuations, deadLetters]) {
      template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [stack.resolve(q.queueUrl)],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Action: "sqs:*", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) },
      });
    }
  });

  it("runs Continue (index.continue) from the processor's code, one message per invocation, with partial batch failures", () => {
    const continuer = propsOf(template, stack, stack.continuer);
    assert.equal(continuer.Handler, "index.continue");
    assert.deepEqual(continuer.Code, propsOf(template, stack, stack.processor).Code, "the same asset");
    assert.equal(continuer.VpcConfig, undefined);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: stack.resolve(stack.continuer.functionName),
      EventSourceArn: queueArn(),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 1,
    });
  });

  it("names the queue to the functions that process (Processor, Sweeper, Continue) and lets them, and only them, send to it", () => {
    const url = stack.resolve(stack.continuations.queueUrl) as unknown;
    for (const fn of [stack.processor, stack.sweeper, stack.continuer]) {
      assert.deepEqual(propsOf(template, stack, fn).Environment.Variables.SLUICE_CONTINUE_QUEUE, url, fn.node.id);
      const sends = statementsAbout("sqs:", statementsOf(template, stack, fn)).filter((s) => [s.Action].flat().includes("sqs:SendMessage"));
      assert.deepEqual(sends, [{ Effect: "Allow", Action: "sqs:SendMessage", Resource: queueArn() }], fn.node.id);
    }
    for (const fn of [stack.issuer, stack.dispatcher]) {
      assert.equal(propsOf(template, stack, fn).Environment.Variables.SLUICE_CONTINUE_QUEUE, undefined, fn.node.id);
      assert.deepEqual(statementsAbout("sqs:", statementsOf(template, stack, fn)), [], fn.node.id);
    }
  });

  it("gives Continue the processor's S3 rights exactly: get and delete on staging, put and abort a multipart copy on archive", () => {
    assert.deepEqual(s3Statements(statementsOf(template, stack, stack.continuer)), s3Statements(statementsOf(template, stack, stack.processor)));
  });
});

describe("the AWS stack with Memcached tickets and events straight to Lambda", () => {
  const { stack, template } = synth({ ticketStore: "memcached", viaQueue: false });

  it("puts a Memcached node in a VPC with its subnets, a security group open only to the functions, and an S3 gateway endpoint", () => {
    template.resourceCountIs("AWS::EC2::VPC", 1);
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.hasResourceProperties("AWS::ElastiCache::CacheCluster", { Engine: "memcached", NumCacheNodes: 1 });
    template.hasResourceProperties("AWS::ElastiCache::SubnetGroup", { SubnetIds: Match.anyValue() });
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Gateway", ServiceName: { "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, ".s3"]] } });
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", { IpProtocol: "tcp", FromPort: 11211, ToPort: 11211 });
    template.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.http", VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }) });
    template.resourceCountIs("AWS::DynamoDB::Table", 1); // the metadata table; no ticket table
    assert.ok(stack.metadata);
  });

  it("reaches the Lambda API and SQS from the isolated subnets through interface endpoints (the processor wakes the dispatcher, hands long copies on), and keeps the dispatcher and Continue out of the VPC", () => {
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Interface", ServiceName: { "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, ".lambda"]] }, PrivateDnsEnabled: true });
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Interface", ServiceName: { "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, ".sqs"]] }, PrivateDnsEnabled: true });
    const fns = template.findResources("AWS::Lambda::Function");
    assert.ok(fns[stack.getLogicalId(stack.processor.node.defaultChild as CfnElement)]!.Properties.VpcConfig, "the processor is in the VPC");
    assert.equal(fns[stack.getLogicalId(stack.dispatcher.node.defaultChild as CfnElement)]!.Properties.VpcConfig, undefined, "the dispatcher needs the internet");
    assert.equal(fns[stack.getLogicalId(stack.continuer.node.defaultChild as CfnElement)]!.Properties.VpcConfig, undefined, "Continue needs no ticket");
  });

  it("reaches the metadata table from the isolated subnets through a DynamoDB gateway endpoint (free)", () => {
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Gateway", ServiceName: { "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, ".dynamodb"]] } });
    const postgres = synth({ ticketStore: "memcached", viaQueue: false, metadata: "postgres" }).template;
    postgres.resourceCountIs("AWS::EC2::VPCEndpoint", 3); // S3, Lambda and SQS: no DynamoDB endpoint without its table
  });

  it("sends events straight to the processor", () => {
    template.hasResourceProperties("Custom::S3BucketNotifications", {
      NotificationConfiguration: { LambdaFunctionConfigurations: [{ Events: ["s3:ObjectCreated:*"], LambdaFunctionArn: stack.resolve(stack.processor.functionArn) }] },
    });
    assert.equal(stack.queue, undefined);
    template.resourceCountIs("AWS::SQS::Queue", 2); // only the continuations and their dead letters
    template.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.s3" });
  });

  it("keeps the issuer's S3 rights to PutObject on staging", () => {
    assert.deepEqual(s3Statements(statementsOf(template, stack, stack.issuer)), [{ Effect: "Allow", Action: "s3:PutObject", Resource: stack.resolve(stack.staging.arnForObjects("*")) }]);
  });
});

describe("the AWS stack publishing events to EventBridge", () => {
  const { stack, template } = synth({ eventBus: "sluice-events" });

  it("gives the dispatcher events:PutEvents on that bus alone, and tells it the bus", () => {
    const statements = statementsOf(template, stack, stack.dispatcher).filter((st) => [st.Action].flat().some((a) => a.startsWith("events:")));
    assert.deepEqual(statements, [
      { Effect: "Allow", Action: "events:PutEvents", Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":events:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, ":event-bus/sluice-events"]] } },
    ]);
    template.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.dispatch", Environment: { Variables: Match.objectLike({ SLUICE_EVENTBRIDGE_BUS: "sluice-events" }) } });
  });

  it("gives no other function any EventBridge right", () => {
    for (const fn of [stack.issuer, stack.processor, stack.sweeper, stack.continuer]) {
      assert.deepEqual(statementsOf(template, stack, fn).filter((st) => [st.Action].flat().some((a) => a.startsWith("events:"))), []);
    }
    const others = Object.values(template.findResources("AWS::Lambda::Function")).filter((f) => f.Properties.Handler !== "index.dispatch");
    for (const f of others) assert.equal(f.Properties.Environment?.Variables?.SLUICE_EVENTBRIDGE_BUS, undefined);
  });
});

describe("the AWS stack with CloudFront in front of staging (Lambda@Edge)", () => {
  const settingsSeen: EdgeSettings[] = [];
  const app = new App();
  const stack = new SluiceStack(app, "Sluice", {
    env: { account: "123456789012", region: "eu-west-3" },
    code: Code.fromInline("export const http = () => {};"),
    ticketStore: "dynamodb",
    viaQueue: true,
    corsOrigins: ["https://app.example.com"],
    edgeCode: (settings) => {
      settingsSeen.push(settings);
      return Code.fromInline("export const originRequest = () => {};");
    },
  });
  const template = Template.fromStack(stack);
  const edge = stack.edge!;
  const edgeTemplate = Template.fromStack(Stack.of(edge.originRequest.lambda));

  it("bundles the edge functions (one asset for both) with the ticket table and its region (Lambda@Edge has no environment)", () => {
    assert.deepEqual(settingsSeen, [{ tickets: "dynamodb://Sluice-tickets", region: "eu-west-3" }]);
    template.hasResourceProperties("AWS::DynamoDB::Table", { TableName: "Sluice-tickets" });
    assert.equal(Stack.of(edge.originRequest.lambda).region, "us-east-1", "Lambda@Edge functions live in us-east-1");
  });

  it("puts the distribution in front of staging with origin access control, uncached, HTTPS only, with both functions", () => {
    template.hasResourceProperties("AWS::CloudFront::OriginAccessControl", {
      OriginAccessControlConfig: { OriginAccessControlOriginType: "s3", SigningBehavior: "always", SigningProtocol: "sigv4" },
    });
    const [distribution] = Object.values(template.findResources("AWS::CloudFront::Distribution"));
    const config = distribution!.Properties.DistributionConfig;
    assert.equal(config.Origins.length, 1);
    assert.deepEqual(config.Origins[0].DomainName, stack.resolve(stack.staging.bucketRegionalDomainName));
    assert.ok(config.Origins[0].OriginAccessControlId, "signed by origin access control");
    const behavior = config.DefaultCacheBehavior;
    assert.deepEqual(behavior.AllowedMethods, ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]);
    assert.equal(behavior.ViewerProtocolPolicy, "https-only");
    assert.equal(behavior.CachePolicyId, "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "the managed CachingDisabled policy");
    assert.deepEqual(
      behavior.LambdaFunctionAssociations.map((a: { EventType: string }) => a.EventType),
      ["origin-request", "origin-response"],
    );
    template.hasResourceProperties("AWS::CloudFront::OriginRequestPolicy", {
      OriginRequestPolicyConfig: Match.objectLike({ HeadersConfig: { HeaderBehavior: "whitelist", Headers: ["content-type", "x-amz-content-sha256"] } }),
    });
  });

  it("lets only this distribution put objects in staging", () => {
    const policies = Object.values(template.findResources("AWS::S3::BucketPolicy")).filter(
      (p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify(stack.resolve(stack.staging.bucketName)),
    );
    const cloudFront = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as { Principal?: unknown }[]).filter((st) => JSON.stringify(st.Principal ?? "").includes("cloudfront"));
    assert.deepEqual(cloudFront, [
      {
        Action: "s3:PutObject",
        Condition: {
          StringEquals: {
            "AWS:SourceArn": { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":cloudfront::", { Ref: "AWS::AccountId" }, ":distribution/", stack.resolve(edge.distribution.distributionId)]] },
          },
        },
        Effect: "Allow",
        Principal: { Service: "cloudfront.amazonaws.com" },
        Resource: stack.resolve(stack.staging.arnForObjects("*")),
      },
    ]);
  });

  it("gives each edge function exactly get and update on the ticket table", () => {
    const statements = Object.values(edgeTemplate.findResources("AWS::IAM::Policy")).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const table = { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":dynamodb:eu-west-3:", { Ref: "AWS::AccountId" }, ":table/Sluice-tickets"]] };
    assert.deepEqual(statements, [
      { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource: table },
      { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"], Resource: table },
    ]);
    edgeTemplate.resourceCountIs("AWS::Lambda::Function", 2);
    edgeTemplate.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.originRequest", Runtime: "nodejs24.x" });
    edgeTemplate.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.originResponse", Runtime: "nodejs24.x" });
  });

  it("tells the issuer to hand out PUTs to the distribution, and outputs its URL", () => {
    const domain = stack.resolve(edge.distribution.distributionDomainName);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.http",
      Environment: { Variables: Match.objectLike({ SLUICE_UPLOAD_MODE: "edge", SLUICE_EDGE_URL: { "Fn::Join": ["", ["https://", domain]] } }) },
    });
    template.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.sqs", Environment: { Variables: Match.objectLike({ SLUICE_UPLOAD_MODE: "direct" }) } });
    template.hasOutput("UploadsUrl", { Value: { "Fn::Join": ["", ["https://", domain]] } });
  });

  it("refuses the front with Memcached tickets (Lambda@Edge cannot reach a VPC)", () => {
    assert.throws(
      () => new SluiceStack(new App(), "S", { env: { region: "eu-west-3" }, code: Code.fromInline("x"), ticketStore: "memcached", viaQueue: false, corsOrigins: ["*"], edgeCode: () => Code.fromInline("x") }),
      /needs ticketStore=dynamodb/,
    );
  });
});
