import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { SHARED_FIXTURES } from '../helpers/fixtures.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ALLOWLIST = path.join(ROOT, 'examples/allowlist.yaml');
const AUDIT = path.join(
  SHARED_FIXTURES,
  'audit-events/constructed/eks-cloudwatch-subscription-event.json',
);

describe('-o on replay and ref', () => {
  it('replay: json, yaml and csv carry the same findings; wide shows whole cells', async () => {
    const base = ['replay', '--allowlist', ALLOWLIST, AUDIT];
    const json = await runCli([...base, '-o', 'json']);
    const yaml = await runCli([...base, '-o', 'yaml']);
    const csv = await runCli([...base, '-o', 'csv']);
    const wide = await runCli([...base, '-o', 'wide']);
    const findings = jsonLines(json.stdout) as { fingerprint: string; image: string }[];
    expect(findings.length).toBeGreaterThan(0);
    expect(parseAllDocuments(yaml.stdout).map((d) => d.toJS())).toEqual(findings);
    const rows = csv.stdout.trim().split('\r\n');
    expect(rows[0]).toMatch(/^fingerprint,cluster,namespace,/);
    expect(rows.slice(1).map((r) => r.split(',')[0])).toEqual(findings.map((f) => f.fingerprint));
    for (const f of findings) expect(wide.stdout).toContain(f.image);
    expect([json.code, yaml.code, csv.code, wide.code]).toEqual([1, 1, 1, 1]);
    const bad = await runCli([...base, '-o', 'sarif']);
    expect(bad.code).toBe(2);
  });

  it('ref: yaml and csv', async () => {
    const yaml = await runCli(['ref', '-o', 'yaml', 'nginx', 'Bad/UPPER']);
    expect(yaml.code).toBe(2);
    expect(parseAllDocuments(yaml.stdout).map((d) => d.toJS())).toMatchObject([
      { input: 'nginx', valid: true, string: 'docker.io/library/nginx' },
      { input: 'Bad/UPPER', valid: false },
    ]);
    const csv = await runCli(['ref', '-o', 'csv', 'nginx']);
    expect(csv.stdout.split('\r\n')[1]).toBe(
      'nginx,true,docker.io/library/nginx,docker.io/library/nginx,docker.io,library/nginx,,,nginx,',
    );
  });
});
