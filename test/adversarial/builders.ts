/** Audit events as an attacker shapes them, for the adversarial tests. */
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { type AuditOutcome, interpretAuditEvent } from '../../lambdas/core/audit/interpret.ts';
import { evaluateObservation } from '../../lambdas/core/evaluate.ts';
import type { FindingCandidate, PodObservation } from '../../lambdas/core/types.ts';
import { TRUSTED_ALLOWLIST, TRUSTED_REGISTRY } from '../helpers/arbitraries.ts';

export const EVIL = 'evil.example.com/miner:1';
export const GOOD = `${TRUSTED_REGISTRY}/team/web:1.0`;
export const CLUSTER = 'orion-prod';
export const allowlist = compileAllowlist(parseAllowlist(TRUSTED_ALLOWLIST));

export type Json = Record<string, unknown>;

export function podSpec(image: unknown = EVIL, extra: Json = {}): Json {
  return { containers: [{ name: 'app', image }], ...extra };
}

/** Where each kind keeps its pod spec, and its objectRef. */
export const KINDS = {
  Pod: { resource: 'pods', group: undefined, wrap: (s: Json) => ({ spec: s }) },
  PodTemplate: {
    resource: 'podtemplates',
    group: undefined,
    wrap: (s: Json) => ({ template: { spec: s } }),
  },
  Deployment: {
    resource: 'deployments',
    group: 'apps',
    wrap: (s: Json) => ({ spec: { template: { spec: s } } }),
  },
  StatefulSet: {
    resource: 'statefulsets',
    group: 'apps',
    wrap: (s: Json) => ({ spec: { template: { spec: s } } }),
  },
  DaemonSet: {
    resource: 'daemonsets',
    group: 'apps',
    wrap: (s: Json) => ({ spec: { template: { spec: s } } }),
  },
  Job: {
    resource: 'jobs',
    group: 'batch',
    wrap: (s: Json) => ({ spec: { template: { spec: s } } }),
  },
  CronJob: {
    resource: 'cronjobs',
    group: 'batch',
    wrap: (s: Json) => ({ spec: { jobTemplate: { spec: { template: { spec: s } } } } }),
  },
} as const;
export type Kind = keyof typeof KINDS;

export function objectOf(kind: Kind, spec: Json = podSpec()): Json {
  return {
    apiVersion: 'v1',
    kind,
    metadata: { name: 'web', namespace: 'prod' },
    ...KINDS[kind].wrap(spec),
  };
}

/** A successful write logged at RequestResponse level; `over` replaces top-level fields. */
export function auditEvent(kind: Kind = 'Pod', over: Json = {}): Json {
  const k = KINDS[kind];
  const object = objectOf(kind);
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: 'b5f1c0de-0000-4000-8000-000000000001',
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: 'mallory', groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.7'],
    objectRef: {
      resource: k.resource,
      namespace: 'prod',
      name: 'web',
      ...(k.group ? { apiGroup: k.group } : {}),
    },
    responseStatus: { code: 201 },
    requestObject: object,
    responseObject: object,
    stageTimestamp: '2026-11-30T10:00:00.000000Z',
    ...over,
  };
}

export function interpret(event: unknown): AuditOutcome {
  return interpretAuditEvent(event, { cluster: CLUSTER });
}

export function observed(event: unknown): PodObservation {
  const out = interpret(event);
  if (out.kind !== 'observation')
    throw new Error(`expected an observation, got ${out.reason}: ${out.detail}`);
  return out.observation;
}

export function findingsOf(event: unknown): FindingCandidate[] {
  return evaluateObservation(observed(event), allowlist, new Date('2026-11-30T12:00:00Z'));
}

/** Parses JSON text as inputs arrive: `__proto__` keys become own properties. */
export function fromJson(text: string): Json {
  return JSON.parse(text) as Json;
}
