/**
 * Allowlist matcher bench: decisions per second with 10, 1,000 and 10,000 rules over the
 * same images, beside a naive loop that tries `startsWith` against every rule (what a
 * prefix-based policy does). The index should cost about the same whatever the rule count;
 * the figure that matters is the cost ratio 10,000 rules / 10 rules (target: ≤ 2).
 *
 * Images: the 6,056 real references of the shared fixtures plus references into the
 * generated rules' registries (ECR accounts, ghcr/quay organisations, team repositories),
 * parsed once up front so the figures are the matcher's, not the parser's.
 *
 * Run: npx node bench/matcher.ts
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AllowlistRule,
  type CompiledAllowlist,
  compileAllowlist,
} from '../lambdas/core/allowlist/index.ts';
import { parseNormalizedNamed } from '../lambdas/core/reference.ts';
import type { ImageReference, ParseResult, Scope } from '../lambdas/core/types.ts';
import { SHARED_FIXTURES } from '../test/helpers/fixtures.ts';
import { type BenchResult, median, report, throughput, versus } from './lib.ts';

const FIXTURES = path.join(SHARED_FIXTURES, 'reference');
const SIZES = [10, 1_000, 10_000] as const;
const NOW = new Date('2026-06-01T00:00:00Z');
const SCOPE: Scope = { cluster: 'orion-prod-euc1', namespace: 'payments' };

/** Deterministic PRNG (mulberry32), so every run benches the same rules and images. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const account = (i: number) => String(100000000000 + i * 7919);
const org = (i: number) => `org-${i.toString(36)}`;
const REGIONS = ['eu-central-1', 'eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-2'];

/** The ten rules every size starts with: what a small real allowlist holds. */
const BASE_RULES: AllowlistRule[] = [
  { id: 'company-ecr', registry: '444455556666.dkr.ecr.*.amazonaws.com', denyTags: ['latest'] },
  { id: 'k8s', registry: 'registry.k8s.io' },
  { id: 'eks-public', image: 'public.ecr.aws/eks*/**' },
  { id: 'hub-official', image: 'docker.io/library/*', denyTags: ['latest'] },
  { id: 'quay-prometheus', image: 'quay.io/prometheus/*' },
  { id: 'ghcr-fluxcd', image: 'ghcr.io/fluxcd/**' },
  { id: 'argo', image: 'quay.io/argoproj/*' },
  { id: 'ingress-nginx', image: 'registry.k8s.io/ingress-nginx/**' },
  { id: 'gcr-distroless', image: 'gcr.io/distroless/*', requireDigest: true },
  { id: 'prod-pinned', image: 'ghcr.io/acme/**', clusters: ['*-prod-*'], requireDigest: true },
];

/** Rule `i` of a generated allowlist: ECR accounts, ghcr/quay orgs and team-* patterns. */
function generatedRule(i: number, random: () => number): AllowlistRule {
  const id = `gen-${i}`;
  switch (i % 5) {
    case 0:
      return { id, registry: `${account(i)}.dkr.ecr.*.amazonaws.com`, denyTags: ['latest'] };
    case 1:
      return { id, image: `ghcr.io/${org(i)}/**` };
    case 2:
      return { id, image: `quay.io/${org(i)}/*`, requireDigest: random() < 0.3 };
    case 3:
      return {
        id,
        registry: `${account(i)}.dkr.ecr.${REGIONS[i % REGIONS.length]}.amazonaws.com`,
        repository: `team-${i.toString(36)}-*/**`,
        ...(random() < 0.5 ? { namespaces: [`team-${i % 50}-*`] } : {}),
      };
    default:
      return {
        id,
        registry: `registry.${org(i)}.example.com`,
        repository: `apps/*`,
        ...(random() < 0.2 ? { expiresAt: '2027-01-01T00:00:00Z' } : {}),
      };
  }
}

/**
 * The same ten with issue 12's features in play: a deny rule on any host (so every image
 * walks the `**` host trie), a deny of a whole registry, and tag globs on allow rules.
 */
const POLICY_BASE_RULES: AllowlistRule[] = [
  ...BASE_RULES.slice(0, 6),
  { id: 'argo-releases', image: 'quay.io/argoproj/*', tags: ['v3.*', 'v2.?.*'] },
  { id: 'ingress-nginx', image: 'registry.k8s.io/ingress-nginx/**', tags: ['v1.*'] },
  { id: 'no-bad-digest', effect: 'deny', registry: '**', digests: [`sha256:${'d'.repeat(64)}`] },
  { id: 'no-k8s-gcr', effect: 'deny', registry: 'k8s.gcr.io', namespaces: ['*', '!legacy'] },
];

/** Every tenth generated rule a deny, every third allow restricted to tag globs. */
function policyRule(i: number, random: () => number): AllowlistRule {
  const rule = generatedRule(i, random);
  if (i % 10 === 0) {
    const { denyTags: _d, requireDigest: _r, ...rest } = rule;
    return { ...rest, effect: 'deny', tags: ['*-debug', 'latest'] };
  }
  if (i % 3 === 0 && rule.denyTags === undefined && rule.requireDigest !== true) {
    return { ...rule, tags: ['1?.*', '*.0', 'v*'] };
  }
  return rule;
}

export function rulesOf(size: number, policy = false): AllowlistRule[] {
  const random = prng(7);
  const rules = (policy ? POLICY_BASE_RULES : BASE_RULES).slice(0, size);
  for (let i = rules.length; i < size; i++) {
    rules.push(policy ? policyRule(i, random) : generatedRule(i, random));
  }
  return rules;
}

/** References into the generated rules' registries, hits and near misses alike. */
export function generatedImages(count: number): string[] {
  const random = prng(11);
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const i = Math.floor(random() * 10_000);
    const region = REGIONS[i % REGIONS.length];
    const tag = random() < 0.2 ? '' : `:${Math.floor(random() * 20)}.${Math.floor(random() * 9)}`;
    switch (i % 5) {
      case 0:
        out.push(`${account(i)}.dkr.ecr.${region}.amazonaws.com/svc-${n % 97}/api${tag}`);
        break;
      case 1:
        out.push(`ghcr.io/${org(i)}/tools/cli-${n % 13}${tag}`);
        break;
      case 2:
        out.push(`quay.io/${org(i)}/exporter${tag}`);
        break;
      case 3:
        out.push(
          `${account(i)}.dkr.ecr.${region}.amazonaws.com/team-${i.toString(36)}-web/app${tag}`,
        );
        break;
      default:
        out.push(`registry.${org(i)}.example.com/apps/web${tag}`);
    }
  }
  return out;
}

/**
 * The baseline: each rule flattened to a string prefix, every rule tried in turn. It is
 * also wrong (no segment boundaries, no host wildcards), which is the point of the index.
 */
function naivePrefixes(rules: readonly AllowlistRule[]): string[] {
  return rules.map((rule) => {
    const text = rule.image ?? `${rule.registry}/${rule.repository ?? ''}`;
    const star = text.indexOf('*');
    return star < 0 ? text : text.slice(0, star);
  });
}

function naiveDecide(prefixes: readonly string[], ref: ImageReference): boolean {
  for (const prefix of prefixes) if (ref.name.startsWith(prefix)) return true;
  return false;
}

interface Workload {
  name: string;
  items: { image: string; result: ParseResult }[];
  refs: ImageReference[];
}

function workload(name: string, images: readonly string[]): Workload {
  const items = images.map((image) => ({ image, result: parseNormalizedNamed(image) }));
  return { name, items, refs: items.flatMap((p) => (p.result.ok ? [p.result.ref] : [])) };
}

export async function run(): Promise<BenchResult[]> {
  const real = readFileSync(path.join(FIXTURES, 'real-image-refs.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  // Real images: the generated rules never match them, so only the rule count changes.
  // Mixed: 40% of the images hit generated rules, so bigger allowlists also match more.
  const workloads = [
    workload('real', real),
    workload('mixed', [...real, ...generatedImages(4_000)]),
  ];
  const options = { targetMs: 500, runs: 3 };

  const results: BenchResult[] = [];
  const rates = new Map<string, number>();
  for (const policy of [false, true]) {
    const label = policy ? ' (deny rules, tag globs)' : '';
    for (const size of SIZES) {
      const rules = rulesOf(size, policy);
      const start = performance.now();
      const allowlist: CompiledAllowlist = compileAllowlist({ version: 1, rules });
      const compileMs = performance.now() - start;
      const sizeName = `${size.toLocaleString('en-US')} rules${label}`;
      for (const w of workloads) {
        const key = `${w.name}${label}`;
        const decide = (p: Workload['items'][number]) =>
          allowlist.decideReference(p.result, p.image, SCOPE, NOW);
        const allowed = w.items.filter((p) => decide(p).allowed).length;
        const rate = throughput(w.items, decide, options);
        rates.set(`${key}:${size}`, rate);
        const name = `index, ${w.name} images, ${sizeName}`;
        const note = `${allowed}/${w.items.length} allowed; compiled in ${compileMs.toFixed(0)} ms`;
        const small = rates.get(`${key}:10`);
        results.push(
          size === 10 || small === undefined
            ? { name, value: rate, unit: 'decisions/s', note }
            : versus(
                name,
                rate,
                'decisions/s',
                { name: `index, ${w.name} images, 10 rules${label}`, value: small },
                note,
              ),
        );
        if (w.name === 'mixed' && !policy) {
          const prefixes = naivePrefixes(rules);
          results.push(
            versus(
              `naive startsWith loop, ${w.name} images, ${sizeName}`,
              throughput(w.refs, (ref) => naiveDecide(prefixes, ref), options),
              'decisions/s',
              { name, value: rate },
              'prefix test over every rule (and wrong: no segment or label boundaries)',
            ),
          );
        }
      }
    }
  }
  // Paired: 10 and 10,000 rules measured back to back, five times, median of the ratios,
  // so load that drifts during the run (a shared machine) cancels out of each pair.
  const realWorkload = workloads[0];
  if (realWorkload) {
    for (const policy of [false, true]) {
      const small = compileAllowlist({ version: 1, rules: rulesOf(10, policy) });
      const large = compileAllowlist({ version: 1, rules: rulesOf(10_000, policy) });
      const time = (al: CompiledAllowlist) =>
        throughput(
          realWorkload.items,
          (p: Workload['items'][number]) => al.decideReference(p.result, p.image, SCOPE, NOW),
          {
            targetMs: 200,
            runs: 1,
          },
        );
      const ratios: number[] = [];
      for (let i = 0; i < 5; i++) ratios.push(time(small) / time(large));
      results.push({
        name: `paired cost ratio 10,000 / 10 rules, real images${policy ? ' (deny rules, tag globs)' : ''}`,
        value: median(ratios),
        unit: 'x',
        note: `median of 5 back-to-back pairs (${ratios.map((r) => r.toFixed(2)).join(', ')}); target ≤ 2`,
      });
    }
  }
  const keys = workloads.flatMap((w) => [w.name, `${w.name} (deny rules, tag globs)`]);
  for (const key of keys) {
    const small = rates.get(`${key}:10`);
    const large = rates.get(`${key}:10000`);
    if (small === undefined || large === undefined) continue;
    results.push({
      name: `cost ratio 10,000 / 10 rules, ${key} images`,
      value: small / large,
      unit: 'x',
      note: key.startsWith('real')
        ? 'time per decision, same matches at both sizes; target ≤ 2'
        : 'time per decision; at 10,000 rules these images also match more rules',
    });
  }
  return results;
}
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  report(await run());
}
