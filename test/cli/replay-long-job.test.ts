/**
 * `regwatch replay` as a long job: progress on a terminal only, `-` reads standard input,
 * `--summary-json`, an input with no audit events is an error (exit 2), the note about
 * cluster-scoped rules when no cluster is known.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCommands } from '../../cli/commands/index.ts';
import { main } from '../../cli/main.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';

const EVENTS = path.resolve(import.meta.dirname, '../fixtures/audit/eks-audit-events.jsonl');
const ALLOWLIST = `version: 1
rules:
  - id: company-ecr
    registry: "444455556666.dkr.ecr.*.amazonaws.com"
  - id: dockerhub-official
    image: "docker.io/library/*"
`;
const SCOPED = `${ALLOWLIST}  - id: netshoot-in-prod
    image: "docker.io/nicolaka/netshoot"
    clusters: ["prod-*"]
`;

let dir: string;
let allowlist: string;
let scoped: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'regwatch-replay-job-'));
  allowlist = path.join(dir, 'allowlist.yaml');
  scoped = path.join(dir, 'scoped.yaml');
  writeFileSync(allowlist, ALLOWLIST);
  writeFileSync(scoped, SCOPED);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI with a stderr that says it is a terminal (or not). */
async function runWithStderr(argv: string[], tty: boolean) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  const err: Buffer[] = [];
  stdout.resume();
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(
    argv,
    { stdin: Readable.from([]), stdout, stderr, env: {}, cwd: dir },
    allCommands,
  );
  return { code, stderr: Buffer.concat(err).toString('utf8') };
}

describe('progress', () => {
  it('is drawn on a terminal and cleared at the end', async () => {
    // Act
    const run = await runWithStderr(['replay', EVENTS, '--allowlist', allowlist], true);
    // Assess
    expect(run.code).toBe(1);
    // Each draw returns the cursor and clears the line (CR, ESC [K); the last clears it for good.
    const shown = run.stderr.replaceAll('\r', '<CR>').replaceAll('\x1b[K', '<CLEAR>');
    expect(shown).toMatch(
      /<CR><CLEAR>replay: 100% 0\.0\/0\.0 MB, 4 events, 1 findings, [\d.]+ MB\/s<CR><CLEAR>/,
    );
    expect(run.stderr).toContain('replay: 1 file(s), 4 line(s), 4 audit event(s)');
  });

  it('is not drawn when stderr is not a terminal, nor with --quiet', async () => {
    // Act
    const piped = await runWithStderr(['replay', EVENTS, '--allowlist', allowlist], false);
    const quiet = await runWithStderr(['replay', EVENTS, '--allowlist', allowlist, '-q'], true);
    // Assess
    for (const run of [piped, quiet]) {
      expect(run.code).toBe(1);
      expect(run.stderr).not.toContain('\r');
      expect(run.stderr).not.toContain('\x1b');
      expect(run.stderr).toContain('findings: 1');
    }
  });
});

describe('replay -', () => {
  it('reads standard input like a file', async () => {
    // Act
    const fromStdin = await runCli(['replay', '-', '--allowlist', allowlist, '--json'], {
      stdin: readFileSync(EVENTS, 'utf8'),
    });
    const fromFile = await runCli(['replay', EVENTS, '--allowlist', allowlist, '--json']);
    // Assess
    expect(fromStdin.code).toBe(1);
    expect(jsonLines(fromStdin.stdout)).toEqual(jsonLines(fromFile.stdout));
    expect(jsonLines(fromStdin.stdout)).toHaveLength(1);
  });

  it('refuses - twice', async () => {
    const run = await runCli(['replay', '-', '-', '--allowlist', allowlist]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('regwatch: standard input (-) can be read only once\n');
  });
});

describe('--summary-json', () => {
  it('writes the summary the human lines show', async () => {
    // Prepare
    const out = path.join(dir, 'summary.json');
    const broken = path.join(dir, 'broken.jsonl');
    writeFileSync(broken, `${readFileSync(EVENTS, 'utf8')}{"kind":"Event",\nplain text\n`);
    // Act
    const run = await runCli([
      'replay',
      broken,
      '--allowlist',
      allowlist,
      '--summary-json',
      out,
      '--cluster',
      'c1',
    ]);
    // Assess
    expect(run.code).toBe(1);
    const summary = JSON.parse(readFileSync(out, 'utf8'));
    expect(summary).toEqual({
      files: 1,
      bytes: readFileSync(broken).length,
      lines: 6,
      events: 4,
      prefiltered: 0,
      evaluated: 3,
      skipped: { 'metadata-only': 1 },
      notJson: 1,
      malformed: 1,
      malformedLines: [
        {
          file: 'broken.jsonl',
          line: 5,
          error: expect.stringMatching(/^invalid JSON: /),
        },
      ],
      findings: 1,
      noEvents: [],
      notes: [],
    });
    expect(run.stderr).toContain('not JSON: 1, malformed: 1');
  });
});

describe('an input with no audit events', () => {
  it.each([
    ['a YAML file', 'allowlist.yaml'],
    ['an empty file', 'empty.jsonl'],
    ['JSON that is not audit data', 'other.json'],
  ])('%s is an error naming it (exit 2), even beside a good log', async (_, name) => {
    // Prepare
    writeFileSync(path.join(dir, 'empty.jsonl'), '');
    writeFileSync(path.join(dir, 'other.json'), '[]\n');
    // Act
    const run = await runCli(['replay', EVENTS, name, '--allowlist', allowlist, '-o', 'wide'], {
      cwd: dir,
    });
    // Assess
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('netshoot');
    expect(run.stderr).toContain(`regwatch: ${name}: no audit events found (not an audit log?)\n`);
  });

  it('a directory is refused up front, and empty standard input is an error too', async () => {
    // Act
    const directory = await runCli(['replay', '.', '--allowlist', allowlist], { cwd: dir });
    const stdin = await runCli(['replay', '-', '--allowlist', allowlist], { stdin: '' });
    // Assess
    expect(directory.code).toBe(2);
    expect(directory.stderr).toBe(
      'regwatch: . is a directory, not an audit log (name its files)\n',
    );
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toContain(
      'regwatch: standard input: no audit events found (not an audit log?)\n',
    );
  });
});

describe('cluster-scoped rules without a cluster', () => {
  const note =
    /note: 6 workload write\(s\) came with no cluster .* 1 cluster-scoped rule\(s\) cannot apply to them \(netshoot-in-prod\); pass --cluster NAME\n/;

  it('are named once when events have no cluster', async () => {
    // Act
    const run = await runCli(['replay', EVENTS, EVENTS, '--allowlist', scoped]);
    // Assess
    expect(run.stderr).toMatch(note);
    expect(run.stderr.match(/note: /g)).toHaveLength(1);
  });

  it('say nothing with --cluster, or when no rule is cluster-scoped', async () => {
    // Act
    const withCluster = await runCli(['replay', EVENTS, '--allowlist', scoped, '--cluster', 'c']);
    const unscoped = await runCli(['replay', EVENTS, '--allowlist', allowlist]);
    // Assess
    expect(withCluster.stderr).not.toContain('note:');
    expect(unscoped.stderr).not.toContain('note:');
  });
});

describe('line numbers per file', () => {
  it("a second file's malformed lines count from its own start", async () => {
    // Prepare
    const second = path.join(dir, 'second.jsonl');
    writeFileSync(second, `${readFileSync(EVENTS, 'utf8')}{"kind":"Event",\n`);
    // Act
    const run = await runCli(['replay', EVENTS, second, '--allowlist', allowlist]);
    // Assess
    expect(run.stderr).toContain('    second.jsonl:5: invalid JSON');
  });
});

describe('--max-record-bytes', () => {
  it('reports longer lines as malformed; the default caps read them', async () => {
    // Prepare: the fixture's lines are 1,562 to 6,623 bytes long.
    const lengths = readFileSync(EVENTS, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => Buffer.byteLength(l));
    const over = lengths.filter((n) => n > 2048).length;
    // Act
    const capped = await runCli([
      'replay',
      EVENTS,
      '--allowlist',
      allowlist,
      '--max-record-bytes',
      '2KiB',
    ]);
    const plain = await runCli(['replay', EVENTS, '--allowlist', allowlist]);
    // Assess
    expect(over).toBeGreaterThan(0);
    expect(capped.stderr).toContain(`malformed: ${over}\n`);
    expect(capped.stderr).toMatch(
      /eks-audit-events\.jsonl:\d+: line of \d+ bytes is longer than the limit \(2048 bytes\): not read/,
    );
    expect(plain.stderr).toContain('malformed: 0\n');
  });

  it('refuses a size that is not one', async () => {
    const run = await runCli([
      'replay',
      EVENTS,
      '--allowlist',
      allowlist,
      '--max-record-bytes',
      '12 parsecs',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'regwatch: --max-record-bytes: not a size of at least 1024 bytes: 12 parsecs (e.g. 64MiB)\n',
    );
  });
});
