/**
 * Named errors. Code anywhere throws these; one place per edge (`cli/errors.ts` for the CLI,
 * `lambdas/handlers/commons/errors.ts` for HTTP) maps them to exit codes and responses.
 */

/** Base class: `code` is stable and machine-readable, `message` is for people. */
export class RegwatchError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The allowlist (file or stored rules) is invalid; `path` names the rule and field. */
export class AllowlistError extends RegwatchError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super('ALLOWLIST_INVALID', message);
    this.issues = issues;
  }
}

/** Input from outside (an HTTP body, an event, a file) does not have the expected shape. */
export class ValidationError extends RegwatchError {
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, issues: readonly { path: string; message: string }[] = []) {
    super('VALIDATION_FAILED', message);
    this.issues = issues;
  }
}

/** A request body or payload is larger than the limit. */
export class PayloadTooLargeError extends RegwatchError {
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super('PAYLOAD_TOO_LARGE', `payload exceeds ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

/** A compressed payload inflates past the limit (a gzip bomb, or simply too much). */
export class InflatedTooLargeError extends PayloadTooLargeError {
  constructor(limitBytes: number) {
    super(limitBytes);
    this.message = `compressed payload inflates past ${limitBytes} bytes`;
  }
}

/** Required configuration (environment, context, flags) is missing or malformed. */
export class ConfigError extends RegwatchError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/** Something asked for does not exist (a finding id, a rule id, a stack output). */
export class NotFoundError extends RegwatchError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** A state change that is not allowed (e.g. acknowledging a resolved finding). */
export class ConflictError extends RegwatchError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** Bad command-line usage. */
export class UsageError extends RegwatchError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** A Kubernetes manifest cannot be read safely (an alias bomb, nesting past the bound). */
export class ManifestError extends RegwatchError {
  constructor(message: string) {
    super('MANIFEST_INVALID', message);
  }
}

/** A network endpoint we were told to use does not answer (refused, unknown host, timed out). */
export class ConnectionError extends RegwatchError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNREACHABLE', message, options);
  }
}

/** A container registry answered with an error or content that is not what was asked for. */
export class RegistryError extends RegwatchError {
  readonly host: string;
  /** HTTP status, when the registry answered at all. */
  readonly status: number | null;
  constructor(
    host: string,
    message: string,
    status: number | null = null,
    options?: ErrorOptions & { code?: string },
  ) {
    super(options?.code ?? 'REGISTRY_ERROR', message, options);
    this.host = host;
    this.status = status;
  }
}

/** A container registry could not be reached (DNS, connection, TLS, timeout). */
export class RegistryUnreachableError extends RegistryError {
  constructor(host: string, message: string, options?: ErrorOptions) {
    super(host, message, null, { ...options, code: 'REGISTRY_UNREACHABLE' });
  }
}

/** A queue refused messages regwatch sent itself (the reconcile fan-out); the caller retries. */
export class QueueDeliveryError extends RegwatchError {
  constructor(message: string) {
    super('QUEUE_DELIVERY_FAILED', message);
  }
}
