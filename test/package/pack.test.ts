/**
 * The installable package, as a user gets it: `npm pack`, installed into an empty project,
 * run there with Node 24 and with Node 22 (the oldest `engines` allows). The CLI image
 * (`Dockerfile.cli`) copies exactly this installed package, so its contents are checked here
 * too (there is no container engine to build the image with).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  dependencies: Record<string, string>;
};
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

let work: string;
let project: string;
let tarball: string;
let files: string[];
let node22: string;

/** Runs the installed CLI the way a user does; never from the checkout. */
async function regwatch(node: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(node, [path.join(project, 'node_modules/regwatch/bin/regwatch.js'), ...args], {
    cwd: project,
    // No HOME and a bare PATH: the package must not depend on the developer's machine.
    env: { PATH: path.dirname(node), ...env },
    timeout: 60_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'regwatch-pack-'));
  // `npm pack` runs `prepack`, which builds dist/.
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--pack-destination', work, '--loglevel=error'],
    { cwd: ROOT, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
  );
  // Lifecycle scripts may print before npm's report: it is the JSON array at the end.
  const packed = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = path.join(work, packed[0]?.filename ?? '');
  files = (packed[0]?.files ?? []).map((f) => f.path).sort();
  project = path.join(work, 'project');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), '{"name":"user-project","private":true}\n');
  await run('npm', ['install', tarball, ...NPM_QUIET], { cwd: project, timeout: 180_000 });
  // Node 22 from the registry's platform package (the same binaries nodejs.org ships).
  const runtimes = path.join(work, 'node22');
  mkdirSync(runtimes);
  writeFileSync(path.join(runtimes, 'package.json'), '{"name":"runtimes","private":true}\n');
  const platformPackage = `node-${process.platform}-${process.arch}@22`;
  await run('npm', ['install', platformPackage, ...NPM_QUIET], { cwd: runtimes, timeout: 180_000 });
  node22 = path.join(runtimes, `node_modules/node-${process.platform}-${process.arch}/bin/node`);
}, 400_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships only what runs: the launcher, the built JavaScript, the examples, the README', () => {
    // Assess
    const outside = files.filter(
      (f) =>
        !['bin/regwatch.js', 'package.json', 'README.md'].includes(f) &&
        !f.startsWith('dist/') &&
        !f.startsWith('examples/'),
    );
    expect(outside).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(files).toContain('dist/regwatch.js');
    expect(files).toContain('dist/regwatch.js.map');
    expect(files).toContain('dist/forwarder/main.mjs');
    expect(files).toContain('examples/allowlist.yaml');
  });

  it('depends at run time only on what cannot be bundled (dynalite: native leveldb)', () => {
    expect(Object.keys(pkg.dependencies)).toEqual(['dynalite']);
    expect(pkg.engines.node).toBe('>=22');
  });
});

for (const [label, nodePath] of [
  ['Node 24', () => process.execPath],
  ['Node 22', () => node22],
] as const) {
  describe(`the installed CLI on ${label}`, () => {
    it('runs the right Node', async () => {
      const { stdout } = await run(nodePath(), ['--version']);
      expect(stdout.trim()).toMatch(label === 'Node 24' ? /^v24\./ : /^v22\./);
    });

    it('prints its version', async () => {
      const r = await regwatch(nodePath(), ['--version']);
      expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    });

    it('parses references', async () => {
      const r = await regwatch(nodePath(), ['ref', '--json', 'nginx', 'Upper/Case']);
      expect(r.code).toBe(2);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines[0]).toMatchObject({ valid: true, string: 'docker.io/library/nginx' });
      expect(lines[1]).toMatchObject({ valid: false });
    });

    it('checks images against the shipped example allowlist', async () => {
      const allowlist = path.join(project, 'node_modules/regwatch/examples/allowlist.yaml');
      const r = await regwatch(nodePath(), [
        'check',
        '--allowlist',
        allowlist,
        '--json',
        'nginx:1.27',
        'registry.k8s.io/pause:3.10',
      ]);
      expect(r.code).toBe(1);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.allowed)).toEqual([false, true]);
    });

    it('reads plain YAML and its cache without the YAML reader or zod; other files load what they need', async () => {
      // Prepare: a hook that names every module loaded, and the chunks holding yaml and zod.
      const hook = path.join(work, 'hook.mjs');
      writeFileSync(
        hook,
        "import { registerHooks } from 'node:module';\n" +
          'registerHooks({ load(url, c, next) { process.stderr.write("LOADED " + url + "\\n"); return next(url, c); } });\n',
      );
      // The CLI's chunks and the validator bundle's (dist/validate/, its own chunks).
      const dist = path.join(project, 'node_modules/regwatch/dist');
      const files = ['chunks', 'validate', 'validate/chunks'].flatMap((dir) =>
        readdirSync(path.join(dist, dir))
          .filter((f) => f.endsWith('.js'))
          .map((f) => `${dir}/${f}`),
      );
      const holding = (pattern: RegExp) =>
        files.filter((f) => pattern.test(readFileSync(path.join(dist, f), 'utf8')));
      // The validator's zod core (the allowlist schema, through zod/mini) and YAML library, and
      // the CLI's own copies (other commands: zod core and classic zod, YAML for manifests).
      const heavy = holding(/"\$ZodError"|"ZodError"|YAMLParseError/);
      const zod = holding(/"\$ZodError"/).filter((f) => f.startsWith('validate/'));
      const yaml = holding(/YAMLParseError/).filter((f) => f.startsWith('validate/'));
      const cliOwn = heavy.filter((f) => f.startsWith('chunks/'));
      for (const found of [zod, cliOwn, yaml]) expect(found.length).toBeGreaterThanOrEqual(1);
      const allowlist = path.join(project, 'node_modules/regwatch/examples/allowlist.yaml');
      // The same document with a directive: outside the plain subset, so the YAML library reads it.
      const example = readFileSync(allowlist, 'utf8');
      const directive = path.join(work, 'allowlist-directive.yaml');
      writeFileSync(directive, `%YAML 1.2\n---\n${example}`);
      // Plain YAML with a typo: quick acceptance declines it, the schema (zod) words the error.
      const typo = path.join(work, 'allowlist-typo.yaml');
      writeFileSync(
        typo,
        example.replace('    owner: observability-team', '    ownr: observability-team'),
      );
      const images = ['nginx:1.27', 'registry.k8s.io/pause:3.10'];
      const args = ['check', '--allowlist', allowlist, ...images];
      const env = {
        XDG_CACHE_HOME: mkdtempSync(path.join(work, 'xdg-')),
        NODE_OPTIONS: `--import ${hook}`,
      };
      const loaded = (stderr: string, names: string[]) =>
        names.filter((f) => stderr.includes(`/dist/${f}\n`));

      // Act
      const miss = await regwatch(nodePath(), args, env);
      const hit = await regwatch(nodePath(), args, env);
      const entries = readdirSync(path.join(env.XDG_CACHE_HOME, 'regwatch'));
      for (const e of entries) writeFileSync(path.join(env.XDG_CACHE_HOME, 'regwatch', e), '{');
      const damaged = await regwatch(nodePath(), args, env);
      const off = { ...env, REGWATCH_CACHE: 'off' };
      const library = await regwatch(
        nodePath(),
        ['check', '--allowlist', directive, ...images],
        off,
      );
      const invalid = await regwatch(nodePath(), ['check', '--allowlist', typo, ...images], off);

      // Assess: a miss on plain, valid YAML is read and accepted without the YAML library or
      // zod (and cached); the CLI's own zod and YAML chunks never load for check.
      expect(miss.code).toBe(1);
      expect(loaded(miss.stderr, heavy)).toEqual([]);
      expect(entries).toHaveLength(1);
      expect(loaded(hit.stderr, heavy)).toEqual([]);
      expect(hit).toMatchObject({ code: miss.code, stdout: miss.stdout });
      expect(loaded(damaged.stderr, heavy)).toEqual([]);
      expect(damaged).toMatchObject({ code: miss.code, stdout: miss.stdout });
      expect(loaded(library.stderr, heavy).sort()).toEqual([...zod, ...yaml].sort());
      expect(library).toMatchObject({ code: miss.code, stdout: miss.stdout });
      expect(loaded(invalid.stderr, heavy)).toEqual(zod);
      expect(invalid.code).toBe(2);
      expect(invalid.stderr).toContain('.ownr: unknown field (did you mean owner?)');
    });

    it('replays an audit log', async () => {
      const allowlist = path.join(project, 'node_modules/regwatch/examples/allowlist.yaml');
      const log = path.join(SHARED_FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl');
      const r = await regwatch(nodePath(), ['replay', '--allowlist', allowlist, '--json', log]);
      expect(r.code).toBe(1);
      expect(r.stdout.trim().split('\n').length).toBeGreaterThan(0);
      expect(JSON.parse(r.stdout.trim().split('\n')[0] ?? '')).toHaveProperty('fingerprint');
    });

    it('replays an audit log as YAML: the same findings as JSON lines', async () => {
      // Prepare: the bundle turns yaml's CommonJS build into a default export only.
      const allowlist = path.join(project, 'node_modules/regwatch/examples/allowlist.yaml');
      const log = path.join(SHARED_FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl');
      const args = ['replay', '--allowlist', allowlist, log];

      // Act
      const yaml = await regwatch(nodePath(), [...args, '-o', 'yaml']);
      const json = await regwatch(nodePath(), [...args, '--json']);

      // Assess
      expect(yaml.code).toBe(1);
      const docs = parseAllDocuments(yaml.stdout).map((d) => d.toJS());
      const lines = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(docs.length).toBeGreaterThan(0);
      expect(docs).toEqual(lines);
    });

    it('prints check and ref results as YAML: the same values as JSON (one yaml loader)', async () => {
      // Prepare
      const allowlist = path.join(project, 'node_modules/regwatch/examples/allowlist.yaml');
      const commands = [
        ['check', '--allowlist', allowlist, 'nginx:1.27'],
        ['ref', 'nginx:1.27'],
      ];
      for (const args of commands) {
        // Act
        const yaml = await regwatch(nodePath(), [...args, '-o', 'yaml']);
        const json = await regwatch(nodePath(), [...args, '-o', 'json']);

        // Assess
        expect(yaml.stderr, args[0]).toBe('');
        expect(yaml.code, args[0]).toBe(json.code);
        const docs = parseAllDocuments(yaml.stdout).map((d) => d.toJS());
        const lines = json.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        expect(docs.length, args[0]).toBeGreaterThan(0);
        expect(docs, args[0]).toEqual(lines);
      }
    });
  });
}

describe('Dockerfile.cli', () => {
  it('copies the installed package and runs its launcher as a non-root user', () => {
    // Prepare
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile.cli'), 'utf8');

    // Assess: the image is `npm pack` extracted to /app with production dependencies, the
    // same steps this file's beforeAll takes, and the entry point is the launcher it runs.
    expect(dockerfile).toMatch(/npm pack /);
    expect(dockerfile).toMatch(/npm install --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/^COPY --from=build \/app \/app$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["\/nodejs\/bin\/node", "\/app\/bin\/regwatch\.js"\]$/m,
    );
    expect(files).toContain('bin/regwatch.js');
  });
});
