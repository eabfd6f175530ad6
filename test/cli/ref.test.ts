import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonLines, runCli } from '../helpers/cli.ts';

describe('regwatch ref', () => {
  it('prints the contract fields for valid references', async () => {
    // Act
    const run = await runCli([
      'ref',
      'nginx',
      `reg.example:5000/a/b:1.0@sha256:${'a'.repeat(64)}`,
      '--json',
    ]);
    // Assess
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)).toEqual([
      {
        input: 'nginx',
        valid: true,
        string: 'docker.io/library/nginx',
        name: 'docker.io/library/nginx',
        domain: 'docker.io',
        path: 'library/nginx',
        tag: null,
        digest: null,
        familiarName: 'nginx',
      },
      {
        input: `reg.example:5000/a/b:1.0@sha256:${'a'.repeat(64)}`,
        valid: true,
        string: `reg.example:5000/a/b:1.0@sha256:${'a'.repeat(64)}`,
        name: 'reg.example:5000/a/b',
        domain: 'reg.example:5000',
        path: 'a/b',
        tag: '1.0',
        digest: `sha256:${'a'.repeat(64)}`,
        familiarName: 'reg.example:5000/a/b',
      },
    ]);
  });

  it('reads stdin, reports invalid ones and exits 2', async () => {
    const run = await runCli(['ref', '--json'], { stdin: 'alpine:3.20\nlibrary/UPPER\n' });
    expect(run.code).toBe(2);
    const [ok, bad] = jsonLines(run.stdout) as Record<string, unknown>[];
    expect(ok).toMatchObject({ input: 'alpine:3.20', valid: true, tag: '3.20' });
    expect(bad).toEqual({
      input: 'library/UPPER',
      valid: false,
      error: expect.stringContaining('must be lowercase'),
    });
  });

  it('works as `npx regwatch` through the package bin', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const res = spawnSync('npx', ['--no-install', 'regwatch', 'ref', '--json', 'nginx:1.27'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ string: 'docker.io/library/nginx:1.27' });
  });
});
