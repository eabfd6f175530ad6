/**
 * Runs one hostile input through the real code in this process and prints
 * `{"maxRssMiB":…,"result":…}` on stdout: `bombs.test.ts` spawns one process per bomb so each
 * peak RSS is its own. The test writes the bomb files into <dir> (generated, never committed);
 * streams are generated here from one reused chunk.
 *
 *   node test/resources/bomb-child.ts <scenario> <dir>
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

const GiB = 1 << 30;
const [scenario, dir = '.'] = process.argv.slice(2);

/** `total` bytes of `byte` as a stream of one reused 1 MiB chunk (nothing held). */
function endless(total: number, byte: number, tail = ''): Readable {
  const chunk = Buffer.alloc(1 << 20, byte);
  let left = total;
  return Readable.from(
    (function* () {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        yield n === chunk.length ? chunk : chunk.subarray(0, n);
      }
      if (tail) yield Buffer.from(tail);
    })(),
  );
}

async function replayCli(args: string[], stdin?: Readable) {
  const { main } = await import('../../cli/main.ts');
  const { allCommands } = await import('../../cli/commands/index.ts');
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: string[] = [];
  out.resume();
  err.on('data', (c: Buffer) => chunks.push(c.toString()));
  const code = await main(
    args,
    { stdin: stdin ?? Readable.from([]), stdout: out, stderr: err, env: {}, cwd: dir },
    allCommands,
  );
  return { code, stderr: chunks.join('') };
}

const ALLOWLIST = path.resolve(import.meta.dirname, '../../examples/allowlist.yaml');
/** Real EKS audit events; one of them is a finding with the example allowlist. */
const EVENTS = path.resolve(import.meta.dirname, '../fixtures/audit/eks-audit-events.jsonl');

async function run(): Promise<unknown> {
  switch (scenario) {
    case 'replay-gz-bomb': {
      // 1 MB on disk, 1 GiB inflated (one endless line of spaces), then a good log.
      const file = path.join(dir, 'bomb.jsonl.gz');
      return replayCli(['replay', file, EVENTS, '--allowlist', ALLOWLIST, '--cluster', 'c']);
    }
    case 'replay-gz-bomb-lines': {
      // 256 MiB of short JSON lines inflated from a few hundred KB, read whole (no ratio cap).
      const { readAuditLog, newReaderStats } = await import(
        '../../lambdas/adapters/auditlog/reader.ts'
      );
      const { gzipSync } = await import('node:zlib');
      const line = `${'{"kind":"Event","verb":"get"}\n'.repeat(1 << 14)}`;
      const member = gzipSync(line, { level: 9 });
      const members = Math.ceil(GiB / 4 / Buffer.byteLength(line));
      const stats = newReaderStats();
      let records = 0;
      const source = Readable.from(
        (function* () {
          for (let i = 0; i < members; i++) yield member;
        })(),
      );
      for await (const _ of readAuditLog(source, { stats, maxInflateRatio: Infinity })) records++;
      return { records, lines: stats.lines, prefiltered: stats.prefiltered };
    }
    case 'replay-2gib-line': {
      // A 2 GiB single line on stdin (`replay -`), then an event.
      return replayCli(
        ['replay', '-', '--allowlist', ALLOWLIST, '--cluster', 'c'],
        endless(2 * GiB, 0x61, `\n${readFileSync(EVENTS, 'utf8')}`),
      );
    }
    case 'replay-huge-document': {
      // A pretty-printed EventList of 256 MiB on stdin, then JSON lines of real events.
      const item = Buffer.from('    { "kind": "Event", "verb": "get" },\n');
      const items = Math.ceil(GiB / 4 / item.length);
      const source = Readable.from(
        (function* () {
          yield Buffer.from('{\n  "kind": "EventList",\n  "items": [\n');
          const block = Buffer.concat(Array.from({ length: 4096 }, () => item));
          for (let i = 0; i < items; i += 4096) yield block;
          yield Buffer.from(`    {}\n  ]\n}\n${readFileSync(EVENTS, 'utf8')}`);
        })(),
      );
      return replayCli(['replay', '-', '--allowlist', ALLOWLIST, '--cluster', 'c'], source);
    }
    case 'cloudwatch-bomb': {
      // An awslogs payload whose data inflates to 1 GiB: decoded in the core, and as a replay line.
      const { decodeCloudWatchPayload } = await import('../../lambdas/core/audit/cloudwatch.ts');
      const file = path.join(dir, 'payload.json');
      let error = '';
      try {
        decodeCloudWatchPayload(JSON.parse(readFileSync(file, 'utf8')));
      } catch (e) {
        error = `${(e as Error).name}: ${(e as Error).message}`;
      }
      const cli = await replayCli(['replay', file, '--allowlist', ALLOWLIST, '--cluster', 'c']);
      return { error, cli };
    }
    case 'local-gzip-bomb': {
      // POST a 1 MB gzip body that inflates to 1 GiB to a server reading it with readBody.
      const { readBody } = await import('../../lambdas/local/body.ts');
      const server = createServer((req, res) => {
        readBody(req, 5 << 20, { gzipByMagic: true }).then(
          (b) => res.end(`ok ${b.length}`),
          (e: Error) => {
            res.statusCode = 413;
            res.end(e.message);
          },
        );
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const body = readFileSync(path.join(dir, 'bomb.jsonl.gz'));
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }),
          );
        });
        req.on('error', reject);
        req.end(body);
      });
      server.close();
      return answer;
    }
    case 'local-junk-array': {
      // A 5 MiB JSON array of junk records to /v1/pod-events (once 1.4 GB and 10 s).
      const { podEventsRoute } = await import('../../lambdas/local/routes.ts');
      const body = Buffer.from(`[${'1,'.repeat(2_600_000)}1]`);
      const { podEventsEdge } = await import('../../lambdas/handlers/edges/pod-events.ts');
      // The route runs the Lambda's own edge; no record here reaches the stores.
      const edges = { podEvents: podEventsEdge({} as never) };
      const report = await podEventsRoute(body, { ingest: {}, registry: {}, edges } as never);
      return { listed: report.failed.length, total: report.failedTotal };
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

const result = await run();
const maxRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ maxRssMiB, result })}\n`);
