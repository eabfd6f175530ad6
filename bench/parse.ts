/**
 * Reference parsing bench: throughput of parseNormalizedNamed over 6,056 real image
 * references, and agreement with Go distribution/reference's recorded output, side by side
 * with two npm parsers measured in the same run:
 * - `@swimlane/docker-reference` parseFamiliarName (a regex port of the Go grammar);
 * - `docker-parse-image` (one loose regex; its output is mapped onto Go's fields).
 * Peers see the 10 malformed references in a child process under a time limit, because
 * the swimlane regexes backtrack catastrophically on some of them.
 *
 * Run: npx node bench/parse.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFamiliarName } from '@swimlane/docker-reference';
import { parseNormalizedNamed } from '../lambdas/core/reference.ts';
import { readFixtureText } from '../test/helpers/fixtures.ts';
import { type BenchResult, report, throughput, versus } from './lib.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIXTURES = path.resolve(ROOT, 'test/fixtures/shared/reference');
/** Per malformed input, per peer. */
const PEER_TIME_LIMIT_MS = 1500;

interface DockerParseImage {
  registry: string | null;
  namespace: string | null;
  repository: string;
  tag: string | null;
}
const require = createRequire(import.meta.url);
const dockerParseImage = require('docker-parse-image') as (s: string) => DockerParseImage | null;

/** The fields every parser is judged on; `null` means "rejected". */
interface Fields {
  string: string;
  domain: string;
  path: string;
  tag: string | null;
  digest: string | null;
}

interface Line {
  input: string;
  valid: boolean;
  normalized?: Fields;
  /** Go's error message, for malformed lines. */
  error?: string;
}

function loadLines(): Line[] {
  return readFixtureText(path.join(FIXTURES, 'real-image-refs.expected.jsonl'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Line);
}

function ours(input: string): Fields | null {
  const r = parseNormalizedNamed(input);
  if (!r.ok) return null;
  const { string, domain, path: p, tag, digest } = r.ref;
  return { string, domain, path: p, tag, digest };
}

function swimlane(input: string): Fields | null {
  try {
    const r = parseFamiliarName(input);
    return {
      string: r.toString(),
      domain: r.domain ?? '',
      path: r.repository ?? '',
      tag: r.tag ?? null,
      digest: r.digest ?? null,
    };
  } catch {
    return null;
  }
}

/**
 * docker-parse-image returns registry / namespace / repository / tag, with a digest folded
 * into `tag`; this maps it onto Go's normalised fields as fairly as its output allows.
 */
function dpi(input: string): Fields | null {
  const r = dockerParseImage(input);
  if (r === null) return null;
  const domain = r.registry ?? 'docker.io';
  const p = [r.namespace ?? (r.registry === null ? 'library' : null), r.repository]
    .filter((x) => x !== null)
    .join('/');
  let tag: string | null = r.tag;
  let digest: string | null = null;
  if (tag !== null) {
    const before = input[input.length - tag.length - 1];
    if (before === '@') {
      digest = tag;
      tag = null;
    } else if (tag.includes('@')) {
      const at = tag.indexOf('@');
      digest = tag.slice(at + 1);
      tag = tag.slice(0, at);
    }
  }
  const string = `${domain}/${p}${tag === null ? '' : `:${tag}`}${digest === null ? '' : `@${digest}`}`;
  return { string, domain, path: p, tag, digest };
}

function agrees(line: Line, got: Fields | null): boolean {
  if (!line.valid) return got === null;
  const want = line.normalized;
  if (!want || got === null) return false;
  return (
    got.string === want.string &&
    got.domain === want.domain &&
    got.path === want.path &&
    got.tag === want.tag &&
    got.digest === want.digest
  );
}

/** Child-process body: parse one input with one peer, print whether it was accepted. */
const CHILD = `
const [peer, input] = process.argv.slice(1);
let ok;
if (peer === 'swimlane') {
  try { require('@swimlane/docker-reference').parseFamiliarName(input); ok = true; } catch { ok = false; }
} else {
  ok = require('docker-parse-image')(input) !== null;
}
process.stdout.write(JSON.stringify({ ok }));
`;

type Outcome = 'rejected' | 'accepted' | 'timeout';

function runPeerIsolated(peer: 'swimlane' | 'dpi', input: string): Outcome {
  const child = spawnSync(process.execPath, ['-e', CHILD, '--', peer, input], {
    cwd: ROOT,
    timeout: PEER_TIME_LIMIT_MS,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
  });
  if (child.error || child.signal !== null) return 'timeout';
  return (JSON.parse(child.stdout) as { ok: boolean }).ok ? 'accepted' : 'rejected';
}

const percent = (n: number, of: number): number => (100 * n) / of;

export async function run(): Promise<BenchResult[]> {
  const lines = loadLines();
  const valid = lines.filter((l) => l.valid);
  const invalid = lines.filter((l) => !l.valid);
  const inputs = readFileSync(path.join(FIXTURES, 'real-image-refs.txt'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

  // Agreement on valid lines: all three in-process.
  const agreeValid = {
    ours: valid.filter((l) => agrees(l, ours(l.input))).length,
    swimlane: valid.filter((l) => agrees(l, swimlane(l.input))).length,
    dpi: valid.filter((l) => agrees(l, dpi(l.input))).length,
  };
  // Malformed lines: ours in-process (linear time), peers isolated under a time limit.
  const sameError = (l: Line): boolean => {
    const r = parseNormalizedNamed(l.input);
    return !r.ok && r.error === l.error;
  };
  const agreeInvalid = { ours: invalid.filter(sameError).length, swimlane: 0, dpi: 0 };
  const timeouts = { swimlane: 0, dpi: 0 };
  for (const peer of ['swimlane', 'dpi'] as const) {
    for (const line of invalid) {
      const outcome = runPeerIsolated(peer, line.input);
      if (outcome === 'rejected') agreeInvalid[peer]++;
      if (outcome === 'timeout') timeouts[peer]++;
    }
  }
  const agreement = (k: 'ours' | 'swimlane' | 'dpi'): number =>
    percent(agreeValid[k] + agreeInvalid[k], lines.length);

  const rate = {
    ours: throughput(inputs, (s) => parseNormalizedNamed(s)),
    swimlane: throughput(inputs, (s) => swimlane(s)),
    dpi: throughput(inputs, (s) => dockerParseImage(s)),
  };

  const SW = '@swimlane/docker-reference';
  const DPI = 'docker-parse-image';
  const timeoutNote = (k: 'swimlane' | 'dpi'): string =>
    `${timeouts[k]}/${invalid.length} malformed refs timed out (>${PEER_TIME_LIMIT_MS} ms)`;
  return [
    versus('parseNormalizedNamed throughput', rate.ours, 'refs/s', {
      name: SW,
      value: rate.swimlane,
    }),
    versus('parseNormalizedNamed throughput', rate.ours, 'refs/s', { name: DPI, value: rate.dpi }),
    versus(
      'agreement with Go (6,066 lines)',
      agreement('ours'),
      '%',
      { name: SW, value: agreement('swimlane') },
      `${SW}: ${agreeValid.swimlane}/${valid.length} valid, ${agreeInvalid.swimlane}/${invalid.length} malformed rejected; ${timeoutNote('swimlane')}`,
    ),
    versus(
      'agreement with Go (6,066 lines)',
      agreement('ours'),
      '%',
      { name: DPI, value: agreement('dpi') },
      `${DPI}: ${agreeValid.dpi}/${valid.length} valid, ${agreeInvalid.dpi}/${invalid.length} malformed rejected; ${timeoutNote('dpi')}; fields mapped from registry/namespace/repository/tag`,
    ),
    {
      name: 'agreement with Go, ours in detail',
      value: agreement('ours'),
      unit: '%',
      note: `${agreeValid.ours}/${valid.length} valid, ${agreeInvalid.ours}/${invalid.length} malformed rejected with Go's message`,
    },
    {
      name: `${SW} timeouts on malformed refs`,
      value: timeouts.swimlane,
      unit: 'inputs',
      note: timeoutNote('swimlane'),
    },
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  report(await run());
}
