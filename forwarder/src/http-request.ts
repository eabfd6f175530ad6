/**
 * One HTTP(S) request on Node's own `http`/`https` clients, the response body streamed.
 * The forwarder talks to the API server and the http sink through this rather than `fetch`:
 * Node's built-in fetch (undici) costs about 14 MiB of RSS once loaded and the undici package
 * as much again, a fifth of the forwarder's memory budget, for two plain requests.
 */
import type { Agent, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

export interface RequestOptions {
  method: 'GET' | 'POST';
  headers: OutgoingHttpHeaders;
  body?: string;
  /** An `https.Agent` carrying TLS settings, or any agent; the global one when absent. */
  agent?: Agent;
  signal: AbortSignal;
}

/** Network failure before a response (refused, reset, TLS, aborted): `code` names it. */
export class HttpRequestError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HttpRequestError';
    this.code = code;
  }
}

/**
 * Resolves with the response once its head has arrived; its body is a stream the caller must
 * read or destroy. The signal aborts the request and the body alike.
 */
export async function request(url: URL, opts: RequestOptions): Promise<IncomingMessage> {
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: opts.method,
      headers:
        opts.body === undefined
          ? opts.headers
          : { ...opts.headers, 'content-length': Buffer.byteLength(opts.body) },
      ...(opts.agent ? { agent: opts.agent } : {}),
      signal: opts.signal,
    });
    req.once('response', resolve);
    req.on('error', (err: Error & { code?: string }) => {
      const code = opts.signal.aborted ? 'ABORTED' : (err.code ?? err.name);
      reject(new HttpRequestError(`${opts.method} ${url.host}: ${code}`, code, { cause: err }));
    });
    req.end(opts.body);
  });
}

/** Reads a body to a string of at most `max` bytes, the rest discarded (error texts, logs). */
export async function readSome(body: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (total < max) chunks.push(chunk.subarray(0, max - total));
    total += chunk.byteLength;
    if (total >= max) break;
  }
  // Breaking out of the loop destroys the stream; the connection is not reused then.
  return Buffer.concat(chunks).toString('utf8');
}
