/**
 * A loopback stand-in for the AWS APIs the bundles call, speaking their wire protocols:
 * JSON 1.0 / 1.1 (`x-amz-target`: DynamoDB, SQS incl. `SendMessageBatch`, EventBridge, ECR, Secrets Manager) and the
 * query protocol (SNS). DynamoDB requests are forwarded to dynalite unchanged; the others are
 * answered here. Every call is recorded with the ARN it acts on, so a test can check it
 * against the calling function's IAM policy.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  /** IAM action, e.g. `dynamodb:PutItem`. */
  action: string;
  /** ARNs the action is authorised against (a table and, for a Query on one, its index). */
  resources: string[];
  /** The `x-amz-security-token` header: which function made the call. */
  caller: string;
  params: Record<string, unknown>;
}

export interface FakeAwsOptions {
  account: string;
  region: string;
  partition?: string;
  /** Where DynamoDB requests go (dynalite). */
  dynamodbEndpoint: string;
  /** `SecretString` by secret ARN (or any id the caller uses). */
  secrets?: Record<string, string>;
  /** ECR answers, by repository name. */
  ecr?: {
    tagMutability?: Record<string, 'MUTABLE' | 'IMMUTABLE'>;
    /** `DescribeImageScanFindings` output by `<repository>@<digest>`. */
    scanFindings?: Record<string, Record<string, unknown>>;
    /** The password `GetAuthorizationToken` hands out (user `AWS`), for the OCI API. */
    registryPassword?: string;
    /** `DescribeImageSigningStatus` signing statuses by `<repository>@<digest>`. */
    signingStatuses?: Record<string, Record<string, unknown>[]>;
  };
}

export interface FakeAws {
  endpoint: string;
  calls: RecordedCall[];
  close(): Promise<void>;
}

const TARGET_SERVICE: Record<string, string> = {
  DynamoDB_20120810: 'dynamodb',
  AmazonSQS: 'sqs',
  AWSEvents: 'events',
  AmazonEC2ContainerRegistry_V20150921: 'ecr',
  secretsmanager: 'secretsmanager',
};

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function startFakeAws(options: FakeAwsOptions): Promise<FakeAws> {
  const { account, region } = options;
  const partition = options.partition ?? 'aws';
  const calls: RecordedCall[] = [];
  const arn = (service: string, resource: string) =>
    `arn:${partition}:${service}:${region}:${account}:${resource}`;

  /** The ARNs a DynamoDB call acts on (the table, and the index a Query names). */
  const dynamoResources = (params: Record<string, unknown>): string[] => {
    const tables = new Set<string>();
    if (typeof params.TableName === 'string') tables.add(params.TableName);
    for (const key of ['RequestItems', 'TransactItems'] as const) {
      const value = params[key];
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const table of Object.keys(value)) tables.add(table);
      }
    }
    const out = [...tables].map((t) => arn('dynamodb', `table/${t}`));
    if (typeof params.IndexName === 'string' && typeof params.TableName === 'string') {
      out.push(arn('dynamodb', `table/${params.TableName}/index/${params.IndexName}`));
    }
    return out;
  };

  /**
   * IAM authorises a secret read against the secret's full ARN (with the six characters
   * Secrets Manager appends), whatever partial ARN or name the caller passed.
   */
  const fullSecretArn = (id: string) => {
    const full = id.startsWith('arn:') ? id : arn('secretsmanager', `secret:${id}`);
    return /-[A-Za-z0-9]{6}$/.test(full) ? full : `${full}-AbCdEf`;
  };

  const queueArn = (url: unknown) =>
    typeof url === 'string' ? arn('sqs', url.split('/').pop() ?? '') : '';

  function answerJson(service: string, operation: string, params: Record<string, unknown>) {
    switch (`${service}:${operation}`) {
      case 'sqs:SendMessage':
        return {
          MessageId: randomUUID(),
          MD5OfMessageBody: md5(String(params.MessageBody ?? '')),
        };
      case 'sqs:SendMessageBatch':
        return {
          Successful: ((params.Entries as { Id: string; MessageBody?: string }[]) ?? []).map(
            (e) => ({
              Id: e.Id,
              MessageId: randomUUID(),
              MD5OfMessageBody: md5(String(e.MessageBody ?? '')),
            }),
          ),
          Failed: [],
        };
      case 'events:PutEvents':
        return {
          FailedEntryCount: 0,
          Entries: ((params.Entries as unknown[]) ?? []).map(() => ({ EventId: randomUUID() })),
        };
      case 'secretsmanager:GetSecretValue': {
        const id = String(params.SecretId);
        const value = options.secrets?.[id];
        if (value === undefined) {
          return {
            __error: 'ResourceNotFoundException',
            message: `Secrets Manager can't find the specified secret.`,
          };
        }
        return { ARN: id, Name: id.split(':').pop(), SecretString: value, VersionId: '1' };
      }
      case 'ecr:DescribeRepositories': {
        const names = (params.repositoryNames as string[]) ?? [];
        return {
          repositories: names.map((name) => ({
            repositoryName: name,
            repositoryArn: arn('ecr', `repository/${name}`),
            registryId: params.registryId ?? account,
            imageTagMutability: options.ecr?.tagMutability?.[name] ?? 'MUTABLE',
          })),
        };
      }
      case 'ecr:DescribeImageScanFindings': {
        const digest = (params.imageId as { imageDigest?: string } | undefined)?.imageDigest;
        const found = options.ecr?.scanFindings?.[`${params.repositoryName}@${digest}`];
        if (!found) {
          return {
            __error: 'ScanNotFoundException',
            message: 'Image scan does not exist for the image',
          };
        }
        return found;
      }
      case 'ecr:GetAuthorizationToken': {
        const password = options.ecr?.registryPassword;
        if (password === undefined) {
          return { __error: 'AccessDeniedException', message: 'no registry in this fake' };
        }
        return {
          authorizationData: [
            {
              authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
              expiresAt: Math.floor(Date.now() / 1000) + 12 * 3600,
              proxyEndpoint: `https://${account}.dkr.ecr.${region}.amazonaws.com`,
            },
          ],
        };
      }
      case 'ecr:DescribeImageSigningStatus': {
        const imageId = (params.imageId ?? {}) as { imageDigest?: string };
        return {
          repositoryName: params.repositoryName,
          imageId,
          registryId: params.registryId ?? account,
          signingStatuses:
            options.ecr?.signingStatuses?.[`${params.repositoryName}@${imageId.imageDigest}`] ?? [],
        };
      }
      default:
        return { __error: 'UnknownOperationException', message: `${service}:${operation}` };
    }
  }

  function resourcesOf(service: string, operation: string, params: Record<string, unknown>) {
    switch (service) {
      case 'sqs':
        return [queueArn(params.QueueUrl)];
      case 'events':
        return [
          ...new Set(
            ((params.Entries as { EventBusName?: string }[]) ?? []).map((e) =>
              (e.EventBusName ?? 'default').startsWith('arn:')
                ? (e.EventBusName as string)
                : arn('events', `event-bus/${e.EventBusName ?? 'default'}`),
            ),
          ),
        ];
      case 'secretsmanager':
        return [fullSecretArn(String(params.SecretId))];
      case 'ecr':
        // IAM has no resource for it: a statement must name "*".
        if (operation === 'GetAuthorizationToken') return ['*'];
        return (
          operation === 'DescribeRepositories'
            ? ((params.repositoryNames as string[]) ?? [])
            : [String(params.repositoryName)]
        ).map((name) =>
          arn('ecr', `repository/${name}`).replace(
            `:${account}:`,
            `:${String(params.registryId ?? account)}:`,
          ),
        );
      default:
        return [];
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const caller = String(req.headers['x-amz-security-token'] ?? '');
      const target = String(req.headers['x-amz-target'] ?? '');
      const [prefix, operation = ''] = target.split('.');
      const service = prefix ? TARGET_SERVICE[prefix] : undefined;

      if (service === 'dynamodb') {
        const params = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
        calls.push({
          action: `dynamodb:${operation}`,
          resources: dynamoResources(params),
          caller,
          params,
        });
        const upstream = new URL(options.dynamodbEndpoint);
        const forward = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: upstream.host },
          },
          (up) => {
            res.writeHead(up.statusCode ?? 500, up.headers);
            up.pipe(res);
          },
        );
        forward.on('error', (error) => {
          res.writeHead(500);
          res.end(String(error));
        });
        forward.end(body);
        return;
      }

      if (service) {
        const params = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
        calls.push({
          // IAM authorises a batch send with sqs:SendMessage: record what the role must allow.
          action:
            service === 'sqs' && operation === 'SendMessageBatch'
              ? 'sqs:SendMessage'
              : `${service}:${operation}`,
          resources: resourcesOf(service, operation, params),
          caller,
          params,
        });
        const out = answerJson(service, operation, params) as Record<string, unknown>;
        const type =
          service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
        if (typeof out.__error === 'string') {
          res.writeHead(400, {
            'content-type': type,
            'x-amzn-query-error': `${out.__error};Sender`,
          });
          res.end(JSON.stringify({ __type: out.__error, message: out.message }));
          return;
        }
        res.writeHead(200, { 'content-type': type, 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(out));
        return;
      }

      // The query protocol: SNS.
      const form = new URLSearchParams(body.toString('utf8'));
      const action = form.get('Action');
      if (action === 'Publish') {
        const params = Object.fromEntries(form.entries());
        calls.push({ action: 'sns:Publish', resources: [String(params.TopicArn)], caller, params });
        const id = randomUUID();
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${xmlEscape(id)}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
        );
        return;
      }
      calls.push({ action: `unknown:${action ?? target}`, resources: [], caller, params: {} });
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not faked</Message></Error></ErrorResponse>',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
