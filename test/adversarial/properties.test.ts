/**
 * Issue 8 §7: for any audit event or pod event that places an untrusted image (or an image
 * that is not a non-empty string) at any container position of any supported pod-template
 * owner or custom resource, with noise keys and odd values around it, the outcome is a finding
 * for that image or a reported failure: never silence. The pre-filters never drop such a line.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regwatchTables } from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { interpretAuditEvent, isReportedFailure } from '../../lambdas/core/audit/interpret.ts';
import { mayBeRelevant } from '../../lambdas/core/audit/prefilter.ts';
import { mayBeRelevantBytes } from '../../lambdas/core/audit/prefilter-bytes.ts';
import { evaluateObservation } from '../../lambdas/core/evaluate.ts';
import { observationFromPodEvent } from '../../lambdas/core/kube/observation.ts';
import {
  type AnyPodEvent,
  isPodSighting,
  type PodEvent,
  podEventSchema,
  trimPod,
} from '../../lambdas/core/kube/pod-event.ts';
import { ingestAuditEvents, ingestPodEvents } from '../../lambdas/services/ingest.ts';
import type { IngestDeps } from '../../lambdas/services/ports.ts';
import {
  arbAuditCase,
  arbPodEventCase,
  isPlacedImage,
  TRUSTED_ALLOWLIST,
} from '../helpers/arbitraries.ts';
import { freshTables, type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';

/** The generators make sightings only: anything else is a broken test, not a pass. */
function sighting(event: AnyPodEvent): PodEvent {
  if (!isPodSighting(event)) throw new Error(`not a pod sighting: ${event.reason}`);
  return event;
}

const allowlist = compileAllowlist(parseAllowlist(TRUSTED_ALLOWLIST));
const NOW = new Date('2026-11-30T12:00:00Z');
const BAD_RULES = ['untrusted-source', 'invalid-reference'];

describe('never silence (property)', () => {
  it('audit events: the placed image is a finding, or the event is a reported failure', () => {
    fc.assert(
      fc.property(arbAuditCase, ({ event, placement }) => {
        const text = JSON.stringify(event);
        expect(mayBeRelevant(text)).toBe(true);
        expect(mayBeRelevantBytes(Buffer.from(text))).toBe(true);
        const outcome = interpretAuditEvent(event, { cluster: 'orion-prod' });
        if (outcome.kind === 'skipped') {
          expect(isReportedFailure(outcome.reason), `${outcome.reason}: ${outcome.detail}`).toBe(
            true,
          );
          return;
        }
        const candidates = evaluateObservation(outcome.observation, allowlist, NOW);
        // Trusted siblings make no finding: every finding is about the placed image.
        expect(candidates.length).toBeGreaterThan(0);
        for (const c of candidates) {
          expect(BAD_RULES).toContain(c.rule);
          expect(isPlacedImage(c.image, placement.image), c.image).toBe(true);
        }
      }),
      { numRuns: 600 },
    );
  });

  it('pod events: the placed image is a finding, or the event fails validation (reported)', () => {
    fc.assert(
      fc.property(arbPodEventCase, ({ event, placement }) => {
        const parsed = podEventSchema.safeParse(event);
        if (!parsed.success) return; // ingest reports it as a failed record
        const candidates = evaluateObservation(
          observationFromPodEvent(sighting(parsed.data)),
          allowlist,
          NOW,
        );
        expect(candidates.length).toBeGreaterThan(0);
        for (const c of candidates) {
          expect(BAD_RULES).toContain(c.rule);
          expect(isPlacedImage(c.image, placement.image), c.image).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('the forwarder: a trimmed pod always keeps the placed image and makes a valid pod event', () => {
    fc.assert(
      fc.property(arbPodEventCase, ({ pod, placement }) => {
        const event = {
          cluster: 'orion-prod',
          observedAt: '2026-11-30T10:00:00.000Z',
          reason: 'running',
          pod: trimPod(pod),
        };
        const parsed = podEventSchema.parse(event);
        const candidates = evaluateObservation(
          observationFromPodEvent(sighting(parsed)),
          allowlist,
          NOW,
        );
        expect(candidates.some((c) => isPlacedImage(c.image, placement.image))).toBe(true);
        expect(candidates.every((c) => BAD_RULES.includes(c.rule))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('never silence, end to end (property, services on dynalite)', () => {
  let dynamo: LocalDynamo;
  let deps: IngestDeps;
  beforeAll(async () => {
    dynamo = await startDynalite();
    const tables = regwatchTables(dynamo.doc, await freshTables(dynamo));
    deps = {
      allowlist: { current: async () => allowlist },
      findings: tables.findings,
      clock: () => NOW,
      minAlertSeverity: 'low',
    };
  });
  afterAll(() => dynamo.stop());

  // Every finding is stored (a repeat of an earlier run's fingerprint counts too), or the
  // record is in `failed`: the store accepts whatever the evaluation makes of hostile input.
  const recorded = (r: Awaited<ReturnType<typeof ingestAuditEvents>>) =>
    r.failed.length +
    r.findings.new +
    r.findings.repeat +
    r.findings.reopened +
    r.findings.duplicate;

  it('audit events through ingestAuditEvents', async () => {
    await fc.assert(
      fc.asyncProperty(arbAuditCase, async ({ event }) => {
        const report = await ingestAuditEvents([event], 'orion-prod', deps);
        expect(recorded(report)).toBeGreaterThan(0);
      }),
      { numRuns: 60 },
    );
  });

  it('pod events through ingestPodEvents', async () => {
    await fc.assert(
      fc.asyncProperty(arbPodEventCase, async ({ event }) => {
        const report = await ingestPodEvents([event], deps);
        expect(recorded(report)).toBeGreaterThan(0);
      }),
      { numRuns: 60 },
    );
  });
});
