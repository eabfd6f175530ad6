import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compileAllowlist,
  parseAllowlist,
  serializeAllowlist,
} from '../../../lambdas/core/allowlist/index.ts';
import { SHARED_FIXTURES } from '../../helpers/fixtures.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '../../../examples/allowlist.yaml');
const FIXTURES = SHARED_FIXTURES;
const NOW = new Date('2026-06-01T00:00:00Z');
const ECR = '444455556666.dkr.ecr.eu-central-1.amazonaws.com';

/** Every `image` field of the constructed EKS audit events (the `npm start` input). */
function fixtureImages(): string[] {
  const text = readFileSync(
    path.join(FIXTURES, 'audit-events/constructed/eks-audit-events.jsonl'),
    'utf8',
  );
  const images = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'image' && typeof value === 'string') images.add(value);
        else visit(value);
      }
    }
  };
  for (const line of text.split('\n')) if (line.trim()) visit(JSON.parse(line));
  return [...images].sort();
}

describe('examples/allowlist.yaml', () => {
  const doc = parseAllowlist(readFileSync(EXAMPLE, 'utf8'), 'examples/allowlist.yaml');
  const allowlist = compileAllowlist(doc);

  it('round-trips through the serializer', () => {
    expect(parseAllowlist(serializeAllowlist(doc))).toEqual(doc);
  });

  it('gives the constructed fixture images a mix of passes and findings', () => {
    // Prepare
    const scope = { cluster: 'orion-prod-euc1', namespace: 'billing' };
    // Act
    const verdicts = Object.fromEntries(
      fixtureImages().map((image) => {
        const d = allowlist.decide(image, scope, NOW);
        return [
          image,
          d.allowed ? `allowed:${d.matchedRule}` : d.violations.map((v) => v.rule).join(','),
        ];
      }),
    );
    // Assess
    expect(verdicts).toEqual({
      [`${ECR}/billing/invoice-api:2.9.0`]: 'allowed:company-ecr',
      [`${ECR}/billing/invoice-api:2.9.1`]: 'allowed:company-ecr',
      [`${ECR}/storefront/web:4.18.2`]: 'allowed:company-ecr',
      'memcached:1.6.26@sha256:5a1c0e9d3f7b2a6c8e4d1f0b9a7c5e3d2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e':
        'allowed:dockerhub-official-prod',
      'nicolaka/netshoot:v0.13': 'untrusted-source',
    });
  });

  it('judges the webhook fixture image curlimages/curl as untrusted', () => {
    const d = allowlist.decide('curlimages/curl:8.8.0', { cluster: 'c', namespace: 'qa' }, NOW);
    expect(d.violations.map((v) => v.rule)).toEqual(['untrusted-source']);
  });

  it('reports the netshoot exception as expired in its namespace', () => {
    const d = allowlist.decide(
      'nicolaka/netshoot:v0.13',
      { cluster: 'orion-prod-euc1', namespace: 'payments' },
      NOW,
    );
    expect(d.matchedRule).toBe('incident-4711-debug-tools');
    expect(d.violations.map((v) => v.rule)).toEqual(['expired-exception']);
  });

  it('requires digests for Docker Hub in prod; judges the pull-through cache as Docker Hub', () => {
    // Prepare
    const prod = { cluster: 'orion-prod-euc1', namespace: 'payments' };
    const dev = { cluster: 'orion-dev-euc1', namespace: 'payments' };
    const digest = `sha256:${'c'.repeat(64)}`;
    const rules = (image: string, scope: object) =>
      allowlist.decide(image, scope, NOW).violations.map((v) => v.rule);
    // Act / Assess
    expect(rules('redis:7', prod)).toEqual(['unpinned-image']);
    expect(allowlist.decide('redis:7', dev, NOW).matchedRule).toBe('dockerhub-official');
    expect(rules('redis', dev)).toEqual(['mutable-tag']);
    expect(rules('redis:7', {})).toEqual(['untrusted-source']);
    expect(
      allowlist.decide(`${ECR}/docker-hub/library/redis:7@${digest}`, prod, NOW).matchedRule,
    ).toBe('dockerhub-official-prod');
    expect(rules(`${ECR}/docker-hub/bitnami/redis:7`, prod)).toEqual(['untrusted-source']);
    expect(
      allowlist.decide('public.ecr.aws/eks-distro/kubernetes/pause:3.9', prod, NOW).allowed,
    ).toBe(true);
    expect(allowlist.decide('public.ecr.aws/evil/eks:1', prod, NOW).allowed).toBe(false);
  });
});
