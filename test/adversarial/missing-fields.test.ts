/**
 * Issue 8 §1: events missing `responseStatus` or `objectRef.apiGroup` where they matter are
 * reported failures with the reason, not ordinary skips; and the pre-filters keep them so
 * the interpreter can say so.
 */
import { describe, expect, it } from 'vitest';
import { mayBeRelevant } from '../../lambdas/core/audit/prefilter.ts';
import { mayBeRelevantBytes } from '../../lambdas/core/audit/prefilter-bytes.ts';
import { ingestAuditEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import { allowlist, auditEvent, CLUSTER, interpret, type Json, type Kind } from './builders.ts';

function kept(event: Json): boolean {
  const text = JSON.stringify(event);
  return mayBeRelevant(text) && mayBeRelevantBytes(Buffer.from(text));
}

describe('missing responseStatus', () => {
  it.each(['Pod', 'Deployment', 'CronJob', 'PodTemplate'] as Kind[])(
    '%s write without responseStatus (or its code) is a reported failure',
    (kind) => {
      for (const responseStatus of [undefined, {}, { status: 'Success' }]) {
        const event = auditEvent(kind, { responseStatus, auditID: 'no-status-1' });
        const out = interpret(event);
        expect(out).toMatchObject({ kind: 'skipped', reason: 'no-response-status' });
        if (out.kind === 'skipped') expect(out.detail).toContain('no-status-1');
        expect(kept(event)).toBe(true);
      }
    },
  );

  it('an explicit non-2xx code stays an ordinary skip', () => {
    expect(interpret(auditEvent('Pod', { responseStatus: { code: 403 } }))).toMatchObject({
      reason: 'failed-request',
    });
  });
});

describe('missing objectRef.apiGroup', () => {
  it.each(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as Kind[])(
    '%s without apiGroup (or with "") is a reported failure',
    (kind) => {
      for (const apiGroup of [undefined, '']) {
        const event = auditEvent(kind);
        const ref = event.objectRef as Json;
        if (apiGroup === undefined) delete ref.apiGroup;
        else ref.apiGroup = apiGroup;
        expect(interpret(event)).toMatchObject({ kind: 'skipped', reason: 'no-api-group' });
        expect(kept(event)).toBe(true);
      }
    },
  );

  it('core-group resources have no apiGroup in the log: pods and podtemplates are judged as usual', () => {
    for (const kind of ['Pod', 'PodTemplate'] as Kind[]) {
      expect(interpret(auditEvent(kind)).kind).toBe('observation');
    }
  });

  it('a subresource that cannot matter stays a skip, apiGroup or not', () => {
    const event = auditEvent('Deployment', {
      objectRef: { resource: 'deployments', subresource: 'scale', namespace: 'prod', name: 'web' },
    });
    expect(interpret(event)).toMatchObject({ reason: 'subresource' });
  });
});

describe('through the ingest service', () => {
  it('both are failed records with their reason; the valid event of the batch is recorded', async () => {
    // Prepare: an in-memory findings port is enough here (the store is tested on dynalite elsewhere)
    const upserts: string[] = [];
    const deps: IngestDeps = {
      allowlist: { current: async () => allowlist },
      findings: {
        upsert: async (c) => {
          upserts.push(c.eventId);
          return {
            outcome: 'new',
            counted: true,
            finding: {
              ...c,
              id: c.fingerprint.slice(0, 16),
              status: 'OPEN',
              firstSeen: c.observedAt,
              lastSeen: c.observedAt,
              count: 1,
            },
          };
        },
      },
      clock: () => new Date('2026-11-30T12:00:00Z'),
      minAlertSeverity: 'low',
    };
    const noGroup = auditEvent('Job', { auditID: 'g-1' });
    delete (noGroup.objectRef as Json).apiGroup;
    // Act
    const report = await ingestAuditEvents(
      [
        auditEvent('Pod', { responseStatus: undefined, auditID: 's-1' }),
        noGroup,
        auditEvent('Pod'),
      ],
      CLUSTER,
      deps,
    );
    // Assess
    expect(report.failed).toEqual([
      { index: 0, error: expect.stringMatching(/^no-response-status: audit event s-1/) },
      { index: 1, error: expect.stringMatching(/^no-api-group: audit event g-1/) },
    ]);
    expect(upserts).toHaveLength(1);
    expect(report.skipped).toEqual({});
  });
});
