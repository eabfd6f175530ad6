/**
 * Issue 8 §1 for `regwatch replay`: a write whose image the log does not show (a JSON-patch
 * `move`, a missing responseStatus) is listed by file, line and auditID and fails the run
 * closed (exit 1), even when nothing else is a finding.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { auditEvent } from './builders.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-unjudged-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ALLOWLIST = path.resolve(import.meta.dirname, '../../examples/allowlist.yaml');

describe('replay reports writes it could not judge', () => {
  it('lists them by auditID and exits 1 with no finding at all', async () => {
    // Prepare
    const move = auditEvent('Deployment', {
      auditID: 'move-77',
      verb: 'patch',
      level: 'Request',
      responseObject: undefined,
      requestObject: [
        {
          op: 'move',
          from: '/metadata/annotations/i',
          path: '/spec/template/spec/containers/0/image',
        },
      ],
    });
    const noStatus = auditEvent('Pod', { auditID: 'nostatus-78', responseStatus: undefined });
    const file = path.join(dir, 'audit.jsonl');
    writeFileSync(file, `${JSON.stringify(move)}\n${JSON.stringify(noStatus)}\n`);
    // Act
    const run = await runCli(['replay', file, '--allowlist', ALLOWLIST, '--cluster', 'orion-prod']);
    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('not judged (reported failures): 2 write(s)');
    expect(run.stderr).toMatch(/audit\.jsonl:1: image-unknown: audit event move-77/);
    expect(run.stderr).toMatch(/audit\.jsonl:2: no-response-status: audit event nostatus-78/);
  });
});
