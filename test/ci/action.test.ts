import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Step {
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
  runs: { using: string; steps: Step[] };
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
};
const hooks = parse(readFileSync(path.join(ROOT, '.pre-commit-hooks.yaml'), 'utf8')) as {
  id: string;
  entry: string;
  language: string;
  files: string;
  pass_filenames: boolean;
}[];

function runStep(step: Step | undefined, env: Record<string, string>, cwd: string) {
  if (!step?.run) throw new Error('no such step');
  return spawnSync('bash', ['-c', step.run], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
}

describe('action.yml (composite GitHub Action)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-action-'));
    writeFileSync(
      path.join(dir, 'allowlist.yaml'),
      'version: 1\nrules:\n  - id: hub\n    image: "docker.io/library/*"\n',
    );
    mkdirSync(path.join(dir, 'k8s'));
    writeFileSync(
      path.join(dir, 'k8s', 'pod.yaml'),
      'kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: "evil.example/x:1"}\n',
    );
    writeFileSync(
      path.join(dir, 'ok.yaml'),
      'kind: Pod\nspec: {containers: [{name: a, image: "nginx:1.27"}]}\n',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a composite action whose scripts never splice inputs into shell text', () => {
    expect(action.runs.using).toBe('composite');
    for (const step of action.runs.steps) {
      if (step.run) expect(step.run, step.id).not.toContain('${{');
    }
    expect(
      action.runs.steps.some((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@')),
    ).toBe(true);
    // A tag can be moved to other code by whoever controls that repository; a commit cannot.
    for (const step of action.runs.steps) {
      if (step.uses) expect(step.uses, step.uses).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
    }
    expect(Object.keys(action.inputs)).toEqual(
      expect.arrayContaining(['manifests', 'allowlist', 'fail-on', 'sarif-file', 'upload-sarif']),
    );
  });

  it('the check step writes SARIF, prints annotations and passes the exit code on', () => {
    // Prepare
    const check = action.runs.steps.find((s) => s.id === 'check');
    const outputs = path.join(dir, 'github-output');
    writeFileSync(outputs, '');
    // Act: the runner sets these from the inputs (names with spaces or quotes stay one argument).
    const run = runStep(
      check,
      {
        GITHUB_OUTPUT: outputs,
        REGWATCH_BIN: path.join(ROOT, 'bin/regwatch.ts'),
        REGWATCH_NODE: process.execPath,
        INPUT_MANIFESTS: '  k8s\n\nok.yaml  \n',
        INPUT_ALLOWLIST: 'allowlist.yaml',
        INPUT_CLUSTER: '',
        INPUT_NAMESPACE: '',
        INPUT_FAIL_ON: '',
        INPUT_SARIF_FILE: 'out.sarif',
        INPUT_ANNOTATIONS: 'true',
      },
      dir,
    );
    // Assess
    expect(run.status).toBe(0);
    expect(readFileSync(outputs, 'utf8')).toContain('exit-code=1\n');
    expect(run.stdout).toMatch(/^::error file=k8s\/pod\.yaml,line=5,col=24,/m);
    const sarif = JSON.parse(readFileSync(path.join(dir, 'out.sarif'), 'utf8'));
    expect(sarif.runs[0].results).toHaveLength(1);
  });

  it('the last step turns the exit code into the job result', () => {
    const last = action.runs.steps.at(-1);
    expect(runStep(last, { RC: '0' }, dir).status).toBe(0);
    expect(runStep(last, { RC: '1' }, dir).status).toBe(1);
    expect(runStep(last, { RC: '2' }, dir).status).toBe(2);
    expect(runStep(last, { RC: '' }, dir).status).toBe(2);
  });
});

describe('.pre-commit-hooks.yaml', () => {
  it('runs check with the staged file names as manifests', async () => {
    const [hook] = hooks;
    expect(hook).toMatchObject({ id: 'regwatch-check', language: 'node', pass_filenames: true });
    const [bin, ...entryArgs] = (hook?.entry ?? '').split(' ');
    expect(bin).toBe('regwatch');
    expect(new RegExp(hook?.files ?? '$^').test('deploy/app.yaml')).toBe(true);
    // What pre-commit runs: entry + args + file names.
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-hook-'));
    try {
      writeFileSync(path.join(dir, 'allowlist.yaml'), 'version: 1\nrules: []\n');
      writeFileSync(
        path.join(dir, 'a.yaml'),
        'kind: Pod\nspec: {containers: [{name: a, image: "x.example/a:1"}]}\n',
      );
      writeFileSync(
        path.join(dir, 'b.yaml'),
        'kind: Pod\nspec: {containers: [{name: b, image: "x.example/b:1"}]}\n',
      );
      const run = await runCli(
        [...entryArgs, '--allowlist', 'allowlist.yaml', 'a.yaml', 'b.yaml'],
        { cwd: dir },
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('x.example/a:1');
      expect(run.stdout).toContain('x.example/b:1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
