import * as z from 'zod';
import { ConfigError } from '../lambdas/core/errors.ts';
import { SEVERITIES } from '../lambdas/core/types.ts';
import { HANDLER_NAMES } from '../lambdas/handlers/compose/config.ts';

/**
 * The CDK context settings regwatch reads (cdk.json `context`, overridable with `-c key=value`).
 * `-c` always passes strings, so lists accept JSON or comma-separated text and booleans and
 * numbers accept their string forms.
 */
export const CONTEXT_KEYS = {
  clusters: 'regwatch:clusters',
  organizationId: 'regwatch:organizationId',
  auditWebhook: 'regwatch:auditWebhook',
  slackWebhookSecretName: 'regwatch:slackWebhookSecretName',
  alertEmails: 'regwatch:alertEmails',
  minAlertSeverity: 'regwatch:minAlertSeverity',
  findingsTtlDays: 'regwatch:findingsTtlDays',
  scanTimeoutMinutes: 'regwatch:scanTimeoutMinutes',
  vulnerableSeverityThreshold: 'regwatch:vulnerableSeverityThreshold',
  account: 'regwatch:account',
  region: 'regwatch:region',
  queueConcurrency: 'regwatch:queueConcurrency',
  reservedConcurrency: 'regwatch:reservedConcurrency',
  reconcileSweepMinutes: 'regwatch:reconcileSweepMinutes',
  exceptionWarningDays: 'regwatch:exceptionWarningDays',
  registryCredentialsSecretName: 'regwatch:registryCredentialsSecretName',
  sigstoreTrustedRootSecretName: 'regwatch:sigstoreTrustedRootSecretName',
  signatureRepositoryArns: 'regwatch:signatureRepositoryArns',
} as const;

/** Splits `-c` strings: a JSON array, or comma-separated values; arrays pass through. */
function stringList(item: z.ZodType<string>) {
  return z.preprocess((raw) => {
    if (typeof raw !== 'string') return raw;
    const text = raw.trim();
    if (text === '') return [];
    if (text.startsWith('[')) {
      try {
        return JSON.parse(text);
      } catch {
        return raw; // let zod report "expected array"
      }
    }
    return text.split(',').map((part) => part.trim());
  }, z.array(item));
}

const booleanish = z.preprocess((raw) => {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}, z.boolean());

function integer(min: number, max: number) {
  return z.preprocess(
    (raw) => (typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw),
    z.number().int().min(min).max(max),
  );
}

/** Empty strings from `-c key=` mean "not set". */
function optionalString(schema: z.ZodString) {
  return z.preprocess((raw) => (raw === '' || raw === null ? undefined : raw), schema.optional());
}

/** EKS cluster names: 1-100 characters, alphanumerics, `-` and `_`, starting alphanumeric. */
const clusterName = z
  .string()
  .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, 'not a valid EKS cluster name');

/**
 * Secrets Manager names: 1-512 characters of letters, digits and `/_+=.@-`. A name that ends in
 * `-` plus six characters would be ambiguous with the ARN suffix Secrets Manager adds.
 */
const secretName = z
  .string()
  .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'not a valid Secrets Manager secret name')
  .refine((name) => !/-[A-Za-z0-9]{6}$/.test(name), {
    message: 'must not end in a hyphen and six characters (ambiguous with the secret ARN suffix)',
  });

/**
 * An ECR repository ARN, `*` allowed in the region, account and repository parts (IAM
 * globs): `arn:aws:ecr:*:123456789012:repository/team/*`.
 */
const ecrRepositoryArn = z
  .string()
  .regex(
    /^arn:aws(-cn|-us-gov|-iso|-iso-b)?:ecr:([a-z]{2}(-[a-z]+)+-\d|\*):(\d{12}|\*):repository\/[a-z0-9._\-/*]+$/,
    'not an ECR repository ARN (arn:aws:ecr:REGION:ACCOUNT:repository/NAME, * allowed)',
  );

/**
 * Reserved concurrency by function: a JSON object (`{"eks-audit-logs": 10}`) or
 * `name=n,name=n`. Only the functions named get a reservation.
 */
const reservations = z.preprocess(
  (raw) => {
    if (typeof raw !== 'string') return raw;
    const text = raw.trim();
    if (text === '') return {};
    if (text.startsWith('{')) {
      try {
        return JSON.parse(text);
      } catch {
        return raw; // let zod report "expected object"
      }
    }
    return Object.fromEntries(text.split(',').map((pair) => pair.split('=').map((p) => p.trim())));
  },
  z.partialRecord(
    z.enum(HANDLER_NAMES),
    z.preprocess(
      (raw) => (typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw),
      z.number().int().min(1).max(1000),
    ),
  ),
);

export const configSchema = z.object({
  clusters: stringList(clusterName)
    .default([])
    .refine((list) => new Set(list).size === list.length, { message: 'duplicate cluster name' }),
  organizationId: optionalString(
    z.string().regex(/^o-[a-z0-9]{10,32}$/, 'not an AWS Organizations id (o-xxxxxxxxxx)'),
  ),
  auditWebhook: booleanish.default(false),
  slackWebhookSecretName: optionalString(secretName),
  alertEmails: stringList(z.email()).default([]),
  minAlertSeverity: z.enum(SEVERITIES).default('high'),
  /** 0 keeps findings forever (no TTL is written). */
  findingsTtlDays: integer(0, 3650).default(0),
  /** SQS delays top out at 15 minutes; longer timeouts re-queue the check. */
  scanTimeoutMinutes: integer(1, 1440).default(30),
  vulnerableSeverityThreshold: z.enum(SEVERITIES).default('critical'),
  account: optionalString(z.string().regex(/^\d{12}$/, 'not a 12-digit AWS account id')),
  region: optionalString(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region name')),
  /**
   * `maximumConcurrency` of each SQS event source (pod events, ECR pushes, scan checks):
   * SQS allows 2-1000. docs/stack-contract.md gives the reasons for the default.
   */
  queueConcurrency: integer(2, 1000).default(5),
  /** None by default: a reservation fails to deploy in an account with the minimum quota. */
  reservedConcurrency: reservations.default({}),
  /** The reconciler's full sweep (issue 11): every this many minutes. */
  reconcileSweepMinutes: integer(5, 1440).default(60),
  /** Days before an exception's `expiresAt` its warning alert goes out (issue 11); 0 = none. */
  exceptionWarningDays: integer(0, 3650).default(7),
  /**
   * `requireSignature` (docs/signatures.md): a docker-config JSON with credentials for
   * registries other than ECR, and a Sigstore trusted root replacing the shipped one. Both are
   * secrets created outside the stack; the verifying functions may read only these.
   */
  registryCredentialsSecretName: optionalString(secretName),
  sigstoreTrustedRootSecretName: optionalString(secretName),
  /**
   * The ECR repositories whose signatures the verifying functions may read (BatchGetImage,
   * GetDownloadUrlForLayer, DescribeImageSigningStatus). Empty: every repository of this
   * account, in any region (a rule's registry may name any region).
   */
  signatureRepositoryArns: stringList(ecrRepositoryArn)
    .default([])
    .refine((list) => new Set(list).size === list.length, {
      message: 'duplicate repository ARN',
    }),
});

export type RegwatchConfig = z.output<typeof configSchema>;

/** Anything with CDK's `node.tryGetContext` (an App, a Stack, any construct). */
export interface ContextSource {
  node: { tryGetContext(key: string): unknown };
}

/**
 * Reads and validates every `regwatch:*` context setting. Throws `ConfigError` naming each bad
 * key, so a typo in cdk.json or `-c` stops synthesis with a clear message.
 */
export function readConfig(scope: ContextSource): RegwatchConfig {
  const raw: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(CONTEXT_KEYS)) {
    raw[field] = scope.node.tryGetContext(key);
  }
  return parseConfig(raw);
}

/** Validates settings keyed by field name (`clusters`, not `regwatch:clusters`). */
export function parseConfig(raw: Record<string, unknown>): RegwatchConfig {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const fieldToKey = CONTEXT_KEYS as Record<string, string>;
  const lines = result.error.issues.map((issue) => {
    const [field, ...rest] = issue.path.map(String);
    const key = (field && fieldToKey[field]) ?? field ?? '(root)';
    const where = rest.length > 0 ? `${key}[${rest.join('.')}]` : key;
    return `  ${where}: ${issue.message}`;
  });
  throw new ConfigError(`invalid regwatch context settings:\n${lines.join('\n')}`);
}
