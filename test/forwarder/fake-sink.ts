/**
 * A loopback `/v1/pod-events` endpoint that can accept, fail (5xx, 429 with Retry-After),
 * refuse (400) or stall, and records every event it accepted.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AnyPodEvent,
  isPodSighting,
  type PodEvent,
  podEventSchema,
} from '../../lambdas/core/kube/pod-event.ts';

export type SinkMode = 'ok' | 'fail' | 'throttle' | 'reject' | 'stall';

export class FakeSink {
  readonly server: Server;
  port = 0;
  mode: SinkMode = 'ok';
  /** Sightings (`added`, `running`, `resync`) accepted, in order. */
  readonly accepted: PodEvent[] = [];
  /** Every event accepted, in order, `deleted` and `resync-complete` included. */
  readonly all: AnyPodEvent[] = [];
  /** Bodies that did not validate against the pod event schema (must stay empty). */
  readonly invalid: unknown[] = [];
  readonly authHeaders: (string | undefined)[] = [];
  requests = 0;
  readonly #stalled: ServerResponse[] = [];
  #waiters: { pred: () => boolean; resolve: () => void }[] = [];

  constructor() {
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/pod-events`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const r of this.#stalled) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Accepts again, ending stalled requests with 503 (as a restarting endpoint would). */
  recover(): void {
    this.mode = 'ok';
    for (const r of this.#stalled.splice(0)) r.writeHead(503).end();
  }

  /** Resolves once `pred` holds after some request (or at once). */
  until(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('FakeSink.until: timed out')), timeoutMs);
      this.#waiters.push({
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Names (`ns/name:reason`) of accepted events. */
  keys(): string[] {
    return this.accepted.map(
      (e) => `${e.pod.metadata.namespace}/${e.pod.metadata.name}:${e.reason}`,
    );
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.requests++;
    this.authHeaders.push(req.headers.authorization);
    switch (this.mode) {
      case 'fail':
        res.writeHead(503).end('down');
        break;
      case 'throttle':
        res.writeHead(429, { 'retry-after': '1' }).end('slow down');
        break;
      case 'reject':
        res.writeHead(400).end('bad batch');
        break;
      case 'stall':
        this.#stalled.push(res);
        break;
      case 'ok': {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const items = Array.isArray(body) ? body : [body];
        for (const item of items) {
          const parsed = podEventSchema.safeParse(item);
          if (parsed.success) {
            this.all.push(parsed.data);
            if (isPodSighting(parsed.data)) this.accepted.push(parsed.data);
          } else this.invalid.push(item);
        }
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
        break;
      }
    }
    this.#check();
  }

  #check(): void {
    const ready = this.#waiters.filter((w) => w.pred());
    this.#waiters = this.#waiters.filter((w) => !w.pred());
    for (const w of ready) w.resolve();
  }
}

/** Polls `pred` until it holds; for conditions that no request signals. */
export async function eventually(pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('eventually: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `eventually` for conditions read asynchronously (metrics). */
export async function eventuallyAsync(pred: () => Promise<boolean>, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('eventuallyAsync: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
