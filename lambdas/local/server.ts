/**
 * The loopback HTTP ingest of `regwatch local` (node:http, no framework):
 *
 * | route | body |
 * |---|---|
 * | `POST /v1/pod-events` | JSON array of forwarder pod events |
 * | `POST /v1/audit?cluster=NAME` | audit `EventList`, JSON lines of `Event`s (gzip allowed) |
 * | `POST /v1/events` | EventBridge event(s): ECR, Inspector2, forwarder pod events |
 * | `GET /healthz` | none |
 *
 * Answers: 200 with the report when every record was good; 400 with the report (invalid records
 * by index: the valid ones are stored already) or the reason the body is unusable; 401 without
 * the configured bearer token; 404 / 405; 413 over the body limit; 415 for a non-JSON media
 * type; 500 when the store failed (the sender may retry: findings count each event once).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PayloadTooLargeError, RegwatchError, ValidationError } from '../core/errors.ts';
import {
  checkContentType,
  DEFAULT_MAX_BODY_BYTES,
  readBody,
  UnsupportedMediaTypeError,
} from './body.ts';
import {
  auditRoute,
  eventsRoute,
  type LocalPipeline,
  type LocalReport,
  podEventsRoute,
} from './routes.ts';

export interface IngestServerOptions {
  /** When set, `/v1/*` requests need `Authorization: Bearer <token>`. */
  token?: string | undefined;
  maxBodyBytes?: number | undefined;
  /** Told about each request's outcome (one line per request) and about server errors. */
  log?: ((line: string) => void) | undefined;
  logError?: ((line: string, error: unknown) => void) | undefined;
}

interface Route {
  method: 'GET' | 'POST';
  contentTypes: readonly string[];
  handle(body: Buffer, url: URL, pipeline: LocalPipeline, limit: number): Promise<LocalReport>;
}

const JSON_TYPES = ['application/json'] as const;
const AUDIT_TYPES = [
  'application/json',
  'application/x-ndjson',
  'application/jsonl',
  'application/gzip',
] as const;

const ROUTES: Readonly<Record<string, Route>> = {
  '/v1/pod-events': {
    method: 'POST',
    contentTypes: JSON_TYPES,
    handle: (body, _url, p) => podEventsRoute(body, p),
  },
  '/v1/audit': {
    method: 'POST',
    contentTypes: AUDIT_TYPES,
    handle: (body, url, p, limit) => auditRoute(body, url.searchParams.get('cluster'), p, limit),
  },
  '/v1/events': {
    method: 'POST',
    contentTypes: JSON_TYPES,
    handle: (body, _url, p) => eventsRoute(body, p),
  },
};

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1]);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** The status and body for an error thrown while handling a request. */
export function errorStatus(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof PayloadTooLargeError) {
    return {
      status: 413,
      body: { error: error.code, message: error.message, limitBytes: error.limitBytes },
    };
  }
  if (error instanceof UnsupportedMediaTypeError) {
    return { status: 415, body: { error: error.code, message: error.message } };
  }
  if (error instanceof ValidationError) {
    return {
      status: 400,
      body: {
        error: error.code,
        message: error.message,
        ...(error.issues.length > 0 ? { issues: error.issues } : {}),
      },
    };
  }
  // Anything else (a store that failed, a broken stored allowlist) is ours, not the sender's.
  const message =
    error instanceof RegwatchError
      ? error.message
      : 'internal error (see the regwatch local console)';
  return { status: 500, body: { error: 'INTERNAL', message } };
}

export function createIngestServer(
  pipeline: LocalPipeline,
  options: IngestServerOptions = {},
): Server {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => {});
  const logError = options.logError ?? (() => {});

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, { error: 'METHOD_NOT_ALLOWED', message: 'use GET' }, { allow: 'GET, HEAD' });
        return;
      }
      send(res, 200, { status: 'ok' });
      return;
    }
    const route = ROUTES[url.pathname];
    if (!route) {
      send(res, 404, {
        error: 'NOT_FOUND',
        message: `no route ${url.pathname}: use ${Object.keys(ROUTES).join(', ')} or /healthz`,
      });
      return;
    }
    if (req.method !== route.method) {
      send(
        res,
        405,
        { error: 'METHOD_NOT_ALLOWED', message: `use ${route.method} ${url.pathname}` },
        { allow: route.method },
      );
      return;
    }
    if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token)) {
      send(
        res,
        401,
        { error: 'UNAUTHORIZED', message: 'missing or wrong bearer token' },
        { 'www-authenticate': 'Bearer realm="regwatch-local"' },
      );
      return;
    }
    checkContentType(req, route.contentTypes);
    const body = await readBody(req, limit);
    const report = await route.handle(body, url, pipeline, limit);
    const status = report.failed.length > 0 ? 400 : 200;
    log(
      `${req.method} ${url.pathname}${url.search} → ${status}: ${report.received} received, ${report.evaluated} evaluated, ${report.failed.length} failed, findings new ${report.findings.new} / reopened ${report.findings.reopened} / repeat ${report.findings.repeat} / duplicate ${report.findings.duplicate}`,
    );
    send(res, status, report);
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, body } = errorStatus(error);
      if (status >= 500) logError(`${req.method} ${req.url} failed`, error);
      else log(`${req.method} ${req.url} → ${status}: ${String(body.message)}`);
      if (status === 413 || !req.readableEnded) {
        // The rest of the body is not read: close the connection after answering, and discard
        // what is still on its way so the sender gets to read the answer.
        send(res, status, body, { connection: 'close' });
        req.resume();
        res.once('finish', () => {
          // A sender that keeps streaming after the answer is cut off.
          if (!req.readableEnded) setTimeout(() => req.socket.destroy(), 1000).unref();
        });
        return;
      }
      send(res, status, body);
    });
  });
}

/** Listens on 127.0.0.1 only (`port` 0 picks a free one); resolves to the bound port. */
export async function listenLoopback(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops accepting, lets in-flight requests finish, closes idle keep-alive connections. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
  server.closeIdleConnections();
  await closed;
}
