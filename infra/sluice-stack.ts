/**
 * Sluice on AWS, serverless (the seeds' design): API Gateway → issuer Lambda hands out
 * one-time presigned URLs; clients PUT straight to the staging bucket; an S3 event (directly,
 * or through SQS with a dead-letter queue) → processor Lambda checks the file and moves it to
 * the archive bucket; a schedule runs the reconcile sweep. A dispatcher function sends the
 * events (webhooks, and optionally an EventBridge bus) every minute, and as soon as the
 * processor or the sweep wakes it. A copy to archive that outlives one invocation hands its
 * job on through the `Continuations` queue to the `Continue` function. Tickets live in
 * DynamoDB (TTL) or ElastiCache Memcached (in a VPC); metadata in one DynamoDB table (the
 * default: no VPC, no database, nothing always on) or in PostgreSQL (its URL a deploy
 * parameter). Every role is least privilege, each scoped to one bucket and its tables.
 */
import { METADATA_TABLE } from "../src/metadata/dynamodb-table.js";
import { multipartAbortDays } from "../src/storage/lifecycle.js";
import { Aws, CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, Token, type StackProps } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3n from "aws-cdk-lib/aws-s3-notifications";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";

/** How long a multipart upload may take (SLUICE_MULTIPART_TTL): Sluice's default, one day. */
const MULTIPART_TTL_SECONDS = 24 * 3600;

/**
 * Every function's runtime: Node.js 24, the active LTS (Lambda deprecates nodejs20.x from
 * 2026-04-30). Lambda@Edge takes it too: CloudFront supports the Lambda runtimes' latest
 * Node.js versions ("Restrictions on Lambda@Edge", Supported runtimes). The bundles are built
 * for it (scripts/build-lambda.mjs, target node24).
 */
const RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * What the DynamoDB metadata and webhook stores call (src/metadata/dynamodb-*.ts,
 * src/webhooks/dynamodb-*.ts), on the table: single and batched reads and writes, Query, and
 * DescribeTable at start (`ensureMetadataTable` finds the table made, so never CreateTable).
 * A TransactWriteItems is not an IAM action of its own: IAM checks each item in it as the
 * PutItem, UpdateItem or DeleteItem it is, and a ConditionCheck as ConditionCheckItem ("Using
 * IAM with DynamoDB transactions"). On the indexes, only Query. No Scan. The infra test
 * derives this list from the stores' code.
 */
export const METADATA_TABLE_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DescribeTable",
];
export const METADATA_INDEX_ACTIONS = ["dynamodb:Query"];

export interface SluiceStackProps extends StackProps {
  /** The Lambda bundle (`npm run build:lambda` makes dist/lambda). */
  code: lambda.Code;
  /** DynamoDB: durable, pay per request. Memcached: an always-on node in a VPC, lost on restart. */
  ticketStore: "dynamodb" | "memcached";
  /**
   * Where the metadata lives. DynamoDB (the default): one table made by the stack, pay per
   * request, no VPC. PostgreSQL: a database the functions can reach, its URL the `DatabaseUrl`
   * deploy parameter.
   */
  metadata?: "dynamodb" | "postgres";
  /** Deliver storage events through SQS (retries, a dead-letter queue) rather than straight to Lambda. */
  viaQueue: boolean;
  /** Browser origins allowed to upload to staging. */
  corsOrigins: string[];
  /** Requests per second the API allows (steady, and burst). */
  throttle?: { rateLimit: number; burstLimit: number };
  /**
   * Put CloudFront in front of staging (the "sandwich"): the Lambda@Edge bundle
   * (`npm run build:lambda` makes dist/lambda-edge) with the settings written beside it, since
   * Lambda@Edge has no environment variables. Needs DynamoDB tickets and an explicit region.
   */
  edgeCode?: (settings: EdgeSettings) => lambda.Code;
  /**
   * Also publish every event to this EventBridge bus (its name: `default`, or a bus made
   * elsewhere), source `sluice`, detail-type the event type. The dispatcher alone may put
   * events, on that bus alone.
   */
  eventBus?: string;
}

/** What the edge functions read from `edge-config.json` (src/runtime/lambda/edge.ts). */
export interface EdgeSettings {
  tickets: string;
  region: string;
}

export class SluiceStack extends Stack {
  readonly staging: s3.Bucket;
  readonly archive: s3.Bucket;
  readonly issuer: lambda.Function;
  readonly processor: lambda.Function;
  readonly sweeper: lambda.Function;
  /** Continues archive copies that outlived an invocation (`index.continue`), fed by `continuations`. */
  readonly continuer: lambda.Function;
  /** Jobs handed on mid-copy: `{"sluice":"continue","uploadId":"…"}` (SLUICE_CONTINUE_QUEUE). */
  readonly continuations: sqs.Queue;
  /** Sends events: webhook deliveries (and retries), and EventBridge when `eventBus` is set. */
  readonly dispatcher: lambda.Function;
  /** The bus events are published to, when `eventBus` is set. */
  readonly eventBus: events.IEventBus | undefined;
  /** The role the issuer assumes for scoped upload credentials (`"method": "credentials"`). */
  readonly uploader: iam.Role;
  readonly api: apigateway.RestApi;
  readonly tickets: dynamodb.Table | elasticache.CfnCacheCluster;
  /** The metadata table, or undefined with `metadata: "postgres"` (the `DatabaseUrl` parameter). */
  readonly metadata: dynamodb.Table | undefined;
  readonly queue: sqs.Queue | undefined;
  readonly vpc: ec2.Vpc | undefined;
  /** The CloudFront front of staging and its two Lambda@Edge functions, when `edgeCode` is given. */
  readonly edge: { distribution: cloudfront.Distribution; originRequest: cloudfront.experimental.EdgeFunction; originResponse: cloudfront.experimental.EdgeFunction } | undefined;

  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);

    const signingSecret = new CfnParameter(this, "SigningSecret", {
      type: "String",
      noEcho: true,
      minLength: 16,
      description: "HMAC secret shared by every function (at least 16 characters)",
    });

    const bucket = (name: string, extra: Partial<s3.BucketProps>) =>
      new s3.Bucket(this, name, {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        removalPolicy: RemovalPolicy.RETAIN,
        ...extra,
      });
    this.staging = bucket("Staging", {
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.POST],
          allowedOrigins: props.corsOrigins,
          allowedHeaders: ["*"],
          // The browser must read each part's ETag to complete a multipart upload.
          exposedHeaders: ["ETag"],
          maxAge: 3600,
        },
      ],
      // Parts of uploads nobody completes cost storage: gone a day after the longest a multipart
      // upload may take (SLUICE_MULTIPART_TTL, set below). Nothing else expires in staging: a
      // failed file is kept there for an operator, and the sweep removes what no record owns.
      lifecycleRules: [{ id: "abort-incomplete-multipart", abortIncompleteMultipartUploadAfter: Duration.days(multipartAbortDays(MULTIPART_TTL_SECONDS)) }],
    });
    this.archive = bucket("Archive", {});

    // Tickets.
    let ticketsUrl: string;
    let network: Pick<lambda.FunctionProps, "vpc" | "vpcSubnets" | "securityGroups"> = {};
    if (props.ticketStore === "dynamodb") {
      const table = new dynamodb.Table(this, "Tickets", {
        // A name known when the stack is synthesized: the edge functions' settings are files, not references.
        tableName: `${this.stackName}-tickets`,
        partitionKey: { name: "id", type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: "ttl",
        removalPolicy: RemovalPolicy.DESTROY,
      });
      this.tickets = table;
      this.vpc = undefined;
      ticketsUrl = `dynamodb://${table.tableName}`;
    } else {
      const vpc = new ec2.Vpc(this, "Vpc", {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: "private", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      });
      // The functions reach S3 from the isolated subnets through a gateway endpoint (no NAT).
      vpc.addGatewayEndpoint("S3Endpoint", { service: ec2.GatewayVpcEndpointAwsService.S3 });
      const functions = new ec2.SecurityGroup(this, "FunctionsSecurityGroup", { vpc, description: "Sluice functions", allowAllOutbound: true });
      const cache = new ec2.SecurityGroup(this, "CacheSecurityGroup", { vpc, description: "Sluice tickets (Memcached)", allowAllOutbound: false });
      cache.addIngressRule(functions, ec2.Port.tcp(11211), "Sluice functions to Memcached");
      const subnets = new elasticache.CfnSubnetGroup(this, "CacheSubnets", {
        description: "Sluice tickets",
        subnetIds: vpc.isolatedSubnets.map((s) => s.subnetId),
      });
      const cluster = new elasticache.CfnCacheCluster(this, "Tickets", {
        engine: "memcached",
        cacheNodeType: "cache.t4g.micro",
        numCacheNodes: 1,
        cacheSubnetGroupName: subnets.ref,
        vpcSecurityGroupIds: [cache.securityGroupId],
      });
      this.tickets = cluster;
      this.vpc = vpc;
      network = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [functions] };
      ticketsUrl = `memcached://${cluster.attrConfigurationEndpointAddress}:${cluster.attrConfigurationEndpointPort}`;
    }

    // Metadata: one DynamoDB table, exactly as src/metadata/dynamodb-table.ts declares it, or
    // a PostgreSQL URL given at deploy time.
    let databaseUrl: string;
    if ((props.metadata ?? "dynamodb") === "dynamodb") {
      const key = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
      const table = new dynamodb.Table(this, "Metadata", {
        partitionKey: key(METADATA_TABLE.partitionKey),
        sortKey: key(METADATA_TABLE.sortKey),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: METADATA_TABLE.ttlAttribute,
        // Restorable to any second of the last 35 days: the records are what the archive means.
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        // As the ticket table: `cdk destroy` leaves nothing billed behind (the buckets are kept).
        removalPolicy: RemovalPolicy.DESTROY,
      });
      for (const index of METADATA_TABLE.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: key(index.partitionKey),
          sortKey: key(index.sortKey),
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      this.metadata = table;
      databaseUrl = `dynamodb://${table.tableName}`;
    } else {
      this.metadata = undefined;
      databaseUrl = new CfnParameter(this, "DatabaseUrl", {
        type: "String",
        noEcho: true,
        description: "postgres://user:password@host:5432/db for Sluice's metadata",
      }).valueAsString;
    }

    const adminKey = new CfnParameter(this, "AdminApiKey", {
      type: "String",
      noEcho: true,
      minLength: 24,
      description: "A full Sluice API key (sk_…) for the operator: it creates scoped keys with `sluice keys create`",
    });

    const environment = {
      NODE_OPTIONS: "--enable-source-maps",
      SLUICE_STORAGE: "s3",
      SLUICE_UPLOAD_MODE: "direct",
      SLUICE_STAGING_BUCKET: this.staging.bucketName,
      SLUICE_ARCHIVE_BUCKET: this.archive.bucketName,
      SLUICE_TICKETS: ticketsUrl,
      SLUICE_DATABASE: databaseUrl,
      SLUICE_SIGNING_SECRET: signingSecret.valueAsString,
      SLUICE_API_KEYS: adminKey.valueAsString,
      SLUICE_CORS_ORIGINS: props.corsOrigins.join(","),
      SLUICE_MULTIPART_TTL: String(MULTIPART_TTL_SECONDS),
      SLUICE_LOG_LEVEL: "info",
    };
    const fn = (name: string, handler: string, timeout: Duration, memorySize: number, where = network, env: Record<string, string> = environment) =>
      new lambda.Function(this, name, {
        runtime: RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        code: props.code,
        handler,
        timeout,
        memorySize,
        environment: env,
        ...where,
      });
    this.issuer = fn("Issuer", "index.http", Duration.seconds(10), 512);
    this.processor = fn("Processor", props.viaQueue ? "index.sqs" : "index.s3", Duration.minutes(5), 1024);
    this.sweeper = fn("Sweeper", "index.reconcile", Duration.minutes(5), 512);
    // The dispatcher reaches webhook receivers on the internet, so it is never in the isolated
    // VPC (no NAT there); it reads and writes no ticket, so it gets none of the ticket store
    // (an in-process one, unused) and no access to it. Its run's budget is its timeout.
    this.dispatcher = fn("Dispatcher", "index.dispatch", Duration.seconds(60), 512, {}, { ...environment, SLUICE_TICKETS: "memory" });
    // Continues copies to archive: Lambda's longest run, and a copy that needs more hands its
    // job on again (SLUICE_PROCESSING_BUDGET defaults to the invocation's remaining time less a
    // margin). Like the dispatcher, it touches no ticket (processing never does), so it has no
    // ticket store and no VPC: it reaches S3, SQS, the metadata and the dispatcher directly.
    this.continuer = fn("Continue", "index.continue", Duration.minutes(15), 1024, {}, { ...environment, SLUICE_TICKETS: "memory" });

    // Least privilege, each role scoped to one bucket (plus the tickets and the metadata).
    this.issuer.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:PutObject"], resources: [this.staging.arnForObjects("*")] }));
    // A copy to archive over the single-copy limit is a multipart copy (parts recorded, resumable):
    // whoever copies may abort it when its source was replaced (nothing expires in archive).
    const archiveWrites = ["s3:PutObject", "s3:AbortMultipartUpload"];
    for (const f of [this.processor, this.continuer]) {
      f.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:GetObject", "s3:DeleteObject"], resources: [this.staging.arnForObjects("*")] }));
      f.addToRolePolicy(new iam.PolicyStatement({ actions: archiveWrites, resources: [this.archive.arnForObjects("*")] }));
    }
    // The sweep must also list staging (to find what no event reported) and abort abandoned multipart uploads.
    this.sweeper.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["s3:ListBucket", "s3:ListBucketMultipartUploads"], resources: [this.staging.bucketArn] }),
    );
    this.sweeper.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], resources: [this.staging.arnForObjects("*")] }),
    );
    this.sweeper.addToRolePolicy(new iam.PolicyStatement({ actions: archiveWrites, resources: [this.archive.arnForObjects("*")] }));
    // Scoped credentials: the issuer assumes this role with a session policy naming one key
    // (src/storage/s3-credentials.ts); the role itself may only upload to staging.
    this.uploader = new iam.Role(this, "Uploader", {
      assumedBy: new iam.ArnPrincipal(this.issuer.role!.roleArn),
      maxSessionDuration: Duration.hours(1),
      description: "Assumed by the Sluice issuer for one upload's scoped credentials",
    });
    this.uploader.addToPolicy(
      new iam.PolicyStatement({ actions: ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], resources: [this.staging.arnForObjects("*")] }),
    );
    this.issuer.addToRolePolicy(new iam.PolicyStatement({ actions: ["sts:AssumeRole"], resources: [this.uploader.roleArn] }));
    this.issuer.addEnvironment("SLUICE_STS_ROLE_ARN", this.uploader.roleArn);
    this.issuer.addEnvironment("SLUICE_STS_MAX_DURATION", "3600");
    if (this.tickets instanceof dynamodb.Table) {
      const ticketActions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"];
      for (const f of [this.issuer, this.processor, this.sweeper]) {
        f.addToRolePolicy(new iam.PolicyStatement({ actions: ticketActions, resources: [this.tickets.tableArn] }));
      }
    }
    if (this.metadata) {
      // Every function reads or writes metadata (the dispatcher: the events and the webhooks store).
      for (const f of [this.issuer, this.processor, this.sweeper, this.dispatcher, this.continuer]) {
        f.addToRolePolicy(new iam.PolicyStatement({ actions: METADATA_TABLE_ACTIONS, resources: [this.metadata.tableArn] }));
        f.addToRolePolicy(new iam.PolicyStatement({ actions: METADATA_INDEX_ACTIONS, resources: [`${this.metadata.tableArn}/index/*`] }));
      }
    }

    // Storage events: straight to the processor, or through a queue with a dead-letter queue.
    if (props.viaQueue) {
      const deadLetters = new sqs.Queue(this, "EventsDeadLetters", { retentionPeriod: Duration.days(14), enforceSSL: true });
      const queue = new sqs.Queue(this, "Events", {
        visibilityTimeout: Duration.minutes(30), // six times the processor's timeout, as AWS advises
        deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
        enforceSSL: true,
      });
      this.staging.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(queue));
      this.processor.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
      this.queue = queue;
    } else {
      this.staging.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(this.processor));
      this.queue = undefined;
    }
    // Continuations: a job whose copy outlived its invocation (the processor's, the sweep's or a
    // continuation's own) is sent here and continued by a fresh invocation, one job each, with
    // Lambda's whole 15 minutes. A lost or dead-lettered message delays the job, never loses it:
    // its record says it is due, and the sweep re-drives it.
    const continuationDeadLetters = new sqs.Queue(this, "ContinuationsDeadLetters", { retentionPeriod: Duration.days(14), enforceSSL: true });
    this.continuations = new sqs.Queue(this, "Continuations", {
      visibilityTimeout: Duration.minutes(90), // six times the Continue function's timeout, as AWS advises
      deadLetterQueue: { queue: continuationDeadLetters, maxReceiveCount: 5 },
      enforceSSL: true,
    });
    this.continuer.addEventSource(new SqsEventSource(this.continuations, { batchSize: 1, reportBatchItemFailures: true }));
    for (const f of [this.processor, this.sweeper, this.continuer]) {
      // Only the send (grantSendMessages would add GetQueueAttributes and GetQueueUrl, unused: the URL is given).
      f.addToRolePolicy(new iam.PolicyStatement({ actions: ["sqs:SendMessage"], resources: [this.continuations.queueArn] }));
      f.addEnvironment("SLUICE_CONTINUE_QUEUE", this.continuations.queueUrl);
    }

    new events.Rule(this, "SweepSchedule", { schedule: events.Schedule.rate(Duration.minutes(5)), targets: [new targets.LambdaFunction(this.sweeper)] });

    // Events: every minute (retries fall due, an instance that died mid-delivery), and at once
    // after processing: the processor and the sweep invoke the dispatcher asynchronously (their
    // role may invoke it and nothing else), so they need no route to the internet and are not
    // billed for a slow receiver.
    new events.Rule(this, "DispatchSchedule", { schedule: events.Schedule.rate(Duration.minutes(1)), targets: [new targets.LambdaFunction(this.dispatcher)] });
    for (const f of [this.processor, this.sweeper, this.continuer]) {
      this.dispatcher.grantInvoke(f);
      f.addEnvironment("SLUICE_DISPATCHER_FUNCTION", this.dispatcher.functionName);
    }
    if (this.vpc) {
      // The isolated subnets reach the Lambda API (the processor and the sweep wake the
      // dispatcher) and SQS (they hand a long copy on) through interface endpoints, and the
      // metadata table through a gateway endpoint.
      this.vpc.addInterfaceEndpoint("LambdaEndpoint", { service: ec2.InterfaceVpcEndpointAwsService.LAMBDA, subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
      this.vpc.addInterfaceEndpoint("SqsEndpoint", { service: ec2.InterfaceVpcEndpointAwsService.SQS, subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
      if (this.metadata) this.vpc.addGatewayEndpoint("DynamoDbEndpoint", { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    }
    if (props.eventBus) {
      this.eventBus = events.EventBus.fromEventBusName(this, "EventBus", props.eventBus);
      this.eventBus.grantPutEventsTo(this.dispatcher);
      this.dispatcher.addEnvironment("SLUICE_EVENTBRIDGE_BUS", this.eventBus.eventBusName);
    } else {
      this.eventBus = undefined;
    }

    this.edge = props.edgeCode ? this.cloudFrontFront(props.edgeCode, props.corsOrigins) : undefined;

    // The API: throttled, and every method needs an API Gateway key (Sluice checks its own bearer key too).
    this.api = new apigateway.LambdaRestApi(this, "Api", {
      handler: this.issuer,
      proxy: true,
      defaultMethodOptions: { apiKeyRequired: true },
      deployOptions: {
        stageName: "v1",
        throttlingRateLimit: props.throttle?.rateLimit ?? 100,
        throttlingBurstLimit: props.throttle?.burstLimit ?? 200,
      },
    });
    const plan = this.api.addUsagePlan("UsagePlan", {
      throttle: { rateLimit: props.throttle?.rateLimit ?? 100, burstLimit: props.throttle?.burstLimit ?? 200 },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    plan.addApiKey(this.api.addApiKey("ApiKey"));

    new CfnOutput(this, "ApiUrl", { value: this.api.url });
    if (this.edge) new CfnOutput(this, "UploadsUrl", { value: `https://${this.edge.distribution.distributionDomainName}` });
    new CfnOutput(this, "StagingBucketName", { value: this.staging.bucketName });
    new CfnOutput(this, "ArchiveBucketName", { value: this.archive.bucketName });
  }

  /**
   * CloudFront in front of staging, with origin access control (CloudFront signs each request
   * to the bucket; the bucket allows PutObject to this distribution only). The origin-request
   * function claims the ticket before the body flows; the origin-response function spends it.
   * The issuer then hands out PUTs to the distribution (SLUICE_UPLOAD_MODE=edge).
   */
  private cloudFrontFront(edgeCode: NonNullable<SluiceStackProps["edgeCode"]>, corsOrigins: string[]): NonNullable<SluiceStack["edge"]> {
    if (!(this.tickets instanceof dynamodb.Table)) throw new Error("The CloudFront front needs ticketStore=dynamodb: Lambda@Edge cannot reach a VPC.");
    if (Token.isUnresolved(this.region)) throw new Error("The CloudFront front needs the stack's region set explicitly (env.region).");
    const tableName = `${this.stackName}-tickets`;
    const settings: EdgeSettings = { tickets: `dynamodb://${tableName}`, region: this.region };
    // Built from names rather than a reference: the functions live in us-east-1, the table here.
    const tableArn = `arn:${Aws.PARTITION}:dynamodb:${this.region}:${Aws.ACCOUNT_ID}:table/${tableName}`;
    const code = edgeCode(settings); // one asset for both functions
    const edgeFunction = (id: string, handler: string) => {
      const fn = new cloudfront.experimental.EdgeFunction(this, id, {
        runtime: RUNTIME,
        code,
        handler,
        timeout: Duration.seconds(5),
        memorySize: 256,
      });
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], resources: [tableArn] }));
      return fn;
    };
    const originRequest = edgeFunction("EdgeOriginRequest", "index.originRequest");
    const originResponse = edgeFunction("EdgeOriginResponse", "index.originResponse");
    const distribution = new cloudfront.Distribution(this, "Uploads", {
      comment: "Sluice uploads to staging",
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.staging, { originAccessLevels: [cloudfront.AccessLevel.WRITE] }),
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        // The type and the body's hash (which origin access control signs) reach the functions and S3.
        originRequestPolicy: new cloudfront.OriginRequestPolicy(this, "UploadHeaders", {
          headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList("content-type", "x-amz-content-sha256"),
          queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.none(),
          cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
        }),
        responseHeadersPolicy: new cloudfront.ResponseHeadersPolicy(this, "UploadCors", {
          corsBehavior: {
            accessControlAllowOrigins: corsOrigins,
            accessControlAllowMethods: ["PUT", "OPTIONS"],
            accessControlAllowHeaders: ["content-type", "x-amz-content-sha256"],
            accessControlExposeHeaders: ["ETag"],
            accessControlAllowCredentials: false,
            originOverride: true,
          },
        }),
        edgeLambdas: [
          { functionVersion: originRequest.currentVersion, eventType: cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST },
          { functionVersion: originResponse.currentVersion, eventType: cloudfront.LambdaEdgeEventType.ORIGIN_RESPONSE },
        ],
      },
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    });
    this.issuer.addEnvironment("SLUICE_UPLOAD_MODE", "edge");
    this.issuer.addEnvironment("SLUICE_EDGE_URL", `https://${distribution.distributionDomainName}`);
    return { distribution, originRequest, originResponse };
  }
}
