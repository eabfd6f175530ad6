/**
 * Property: place an untrusted image at any container position (containers, initContainers,
 * ephemeralContainers; any index) of any supported kind or an unknown kind (at the CRD's own
 * path or a random one), mix in noise keys (prototype names among them) and odd values, write
 * it as YAML 1.1 or JSON, and `regwatch check -f -` reports a violation for that image or a
 * failure (exit 2) — never silence.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { jsonLines, runCli } from '../helpers/cli.ts';

const ALLOWLIST =
  'version: 1\nrules:\n  - id: trusted\n    registry: "registry.trusted.example"\n    repository: "**"\n';
const TRUSTED = 'registry.trusted.example/app:1';

type Obj = Record<string, unknown>;

/** Where each kind keeps its pod spec. */
const KINDS: [string, string[]][] = [
  ['Pod', ['spec']],
  ['PodTemplate', ['template', 'spec']],
  ['Deployment', ['spec', 'template', 'spec']],
  ['ReplicaSet', ['spec', 'template', 'spec']],
  ['StatefulSet', ['spec', 'template', 'spec']],
  ['DaemonSet', ['spec', 'template', 'spec']],
  ['Job', ['spec', 'template', 'spec']],
  ['ReplicationController', ['spec', 'template', 'spec']],
  ['CronJob', ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
  ['Rollout', ['spec', 'template', 'spec']],
  ['CloneSet', ['spec', 'template', 'spec']],
  ['Service', ['spec', 'template', 'spec']], // Knative
  ['ScaledJob', ['spec', 'jobTargetRef', 'template', 'spec']],
  ['Workflow', ['spec', 'x', 'podSpecPatch']],
];

const LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

const untrustedImage = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        'evil.example',
        'docker.io.evil.com',
        'ghcr.io',
        'quay.io',
        'localhost:5000',
        '10.0.0.1:443',
      ),
      fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/),
      fc.constantFrom('', ':latest', ':1.0', `@sha256:${'a'.repeat(64)}`),
    )
    .map(([host, repo, suffix]) => `${host}/${repo}${suffix}`),
  // Unparseable references: invalid-reference, also a violation.
  fc.constantFrom('Evil/UPPER', 'evil..example/x', ':nope', 'a'.repeat(300)),
);

const noiseKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'volumes',
    'x-extra',
  ),
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,10}$/),
);
const oddValue = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);
const noise = fc.dictionary(noiseKey, oddValue, { maxKeys: 4 });

const placement = fc.record({
  kind: fc.constantFrom(...KINDS),
  list: fc.constantFrom(...LISTS),
  before: fc.nat({ max: 2 }),
  after: fc.nat({ max: 2 }),
  image: untrustedImage,
  specNoise: noise,
  containerNoise: noise,
  topNoise: noise,
  randomPath: fc.option(
    fc.array(fc.stringMatching(/^[a-z][a-zA-Z]{0,6}$/), { minLength: 1, maxLength: 4 }),
    { nil: undefined },
  ),
  json: fc.boolean(),
});

function strip(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  // defineProperty keeps a "__proto__" noise key as data, so it reaches the JSON/YAML text.
  for (const [k, v] of Object.entries(o)) {
    if (!keys.includes(k))
      Object.defineProperty(out, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return out;
}

type Placement = typeof placement extends fc.Arbitrary<infer T> ? T : never;

function build(p: Placement): { text: string; image: string } {
  const [kind, specPath] = p.kind;
  const trusted = (i: number) => ({ name: `t${i}`, image: TRUSTED });
  const untrusted = {
    ...strip(p.containerNoise, ['name', 'image']),
    name: 'target',
    image: p.image,
  };
  const list = [
    ...Array.from({ length: p.before }, (_, i) => trusted(i)),
    untrusted,
    ...Array.from({ length: p.after }, (_, i) => trusted(i + 10)),
  ];
  const spec: Obj = { ...strip(p.specNoise, [...LISTS]), [p.list]: list };
  // Unknown kinds may keep the pod spec anywhere: sometimes use a random path instead.
  const isUnknown = ['Rollout', 'CloneSet', 'Service', 'ScaledJob', 'Workflow'].includes(kind);
  const where = isUnknown && p.randomPath ? ['spec', ...p.randomPath] : specPath;
  let node: Obj = spec;
  for (const key of [...where].reverse()) node = { [key]: node };
  const doc: Obj = {
    ...strip(p.topNoise, ['kind', 'metadata', 'apiVersion', 'items', ...where.slice(0, 1)]),
    apiVersion: 'v1',
    kind,
    metadata: { name: 'w', namespace: 'n' },
    ...node,
  };
  const text = p.json ? JSON.stringify(doc) : stringify(doc, { version: '1.1' });
  return { text, image: p.image };
}

describe('property: an untrusted image at any container position is never silent', () => {
  let dir: string;
  let allowlist: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'regwatch-prop-'));
    allowlist = path.join(dir, 'allowlist.yaml');
    writeFileSync(allowlist, ALLOWLIST);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('check -f reports a violation for it or a failure', async () => {
    await fc.assert(
      fc.asyncProperty(placement, async (p) => {
        const { text, image } = build(p);
        const run = await runCli(['check', '--allowlist', allowlist, '-f', '-', '-o', 'json'], {
          stdin: text,
        });
        const rows = jsonLines(run.stdout) as { image: string; allowed: boolean }[];
        const judged = rows.some((r) => r.image === image && !r.allowed);
        expect(judged || run.code === 2, `silent for:\n${text}\n${run.stdout}\n${run.stderr}`).toBe(
          true,
        );
        expect(run.code).not.toBe(0);
        expect(run.stderr).not.toContain('unexpected error');
      }),
      { numRuns: 200 },
    );
  });
});
