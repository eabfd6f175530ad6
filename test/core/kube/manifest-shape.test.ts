import { describe, expect, it } from 'vitest';
import { extractFromManifest } from '../../../lambdas/core/kube/manifest.ts';
import { parseManifestYaml } from '../../../lambdas/core/kube/manifest-yaml.ts';

const podSpec = (image: unknown) => ({ containers: [{ name: 'app', image }] });

/** Kinds regwatch does not know, each with its pod spec where the real CRD keeps it. */
const UNKNOWN_KINDS: [string, Record<string, unknown>, string][] = [
  [
    'Rollout', // Argo Rollouts
    {
      apiVersion: 'argoproj.io/v1alpha1',
      spec: { template: { spec: podSpec('evil.example/r:1') } },
    },
    'spec.template.spec.containers[0].image',
  ],
  [
    'CloneSet', // OpenKruise
    {
      apiVersion: 'apps.kruise.io/v1alpha1',
      spec: { template: { spec: podSpec('evil.example/k:1') } },
    },
    'spec.template.spec.containers[0].image',
  ],
  [
    'Service', // Knative Serving: containers directly under spec.template.spec
    {
      apiVersion: 'serving.knative.dev/v1',
      spec: { template: { spec: podSpec('evil.example/n:1') } },
    },
    'spec.template.spec.containers[0].image',
  ],
  [
    'ScaledJob', // KEDA
    {
      apiVersion: 'keda.sh/v1alpha1',
      spec: { jobTargetRef: { template: { spec: podSpec('evil.example/j:1') } } },
    },
    'spec.jobTargetRef.template.spec.containers[0].image',
  ],
  [
    'Thing', // any CRD, deep and inside a list
    {
      apiVersion: 'x.example/v1',
      spec: { stages: [{ run: { pod: { initContainers: [{ image: 'evil.example/t:1' }] } } }] },
    },
    'spec.stages[0].run.pod.initContainers[0].image',
  ],
];

function pathText(p: readonly (string | number)[]): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

describe('extractFromManifest: kinds regwatch does not know are judged by shape', () => {
  for (const [kind, body, path] of UNKNOWN_KINDS) {
    it(`finds the containers of a ${kind} (${String(body.apiVersion)})`, () => {
      // Act
      const [entry] = extractFromManifest({
        kind,
        metadata: { name: 'w', namespace: 'n' },
        ...body,
      });
      // Assess
      expect(entry?.skipped).toBeUndefined();
      expect(entry?.containers).toHaveLength(1);
      const c = entry?.containers[0];
      expect(c?.judgedBy).toBe('shape');
      expect(c?.image).toMatch(/^evil\.example\//);
      expect(c?.invalid).toBeNull();
      expect(pathText(c?.path ?? [])).toBe(path);
      expect(entry?.workload).toEqual({ kind, name: 'w' });
    });
  }

  it('a known kind is read by kind, and a second pod spec elsewhere in it by shape', () => {
    const [entry] = extractFromManifest({
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: {
        template: { spec: podSpec('nginx:1') },
        extra: { sidecarTemplate: { containers: [{ name: 's', image: 'evil.example/s:1' }] } },
      },
    });
    expect(entry?.containers.map((c) => [c.image, c.judgedBy])).toEqual([
      ['nginx:1', 'kind'],
      ['evil.example/s:1', 'shape'],
    ]);
  });

  it('Argo Workflows templates (container, script, sidecars) and Tekton steps', () => {
    const [wf] = extractFromManifest({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      spec: {
        templates: [
          { name: 'a', container: { image: 'evil.example/a:1', command: ['x'] } },
          { name: 'b', script: { image: 'evil.example/b:1', source: 'echo' } },
          {
            name: 'c',
            container: { image: 'evil.example/c:1' },
            sidecars: [{ name: 's', image: 'evil.example/s:1' }],
          },
        ],
      },
    });
    expect(wf?.containers.map((c) => [c.name, c.image, pathText(c.path)])).toEqual([
      ['container', 'evil.example/a:1', 'spec.templates[0].container.image'],
      ['script', 'evil.example/b:1', 'spec.templates[1].script.image'],
      ['container', 'evil.example/c:1', 'spec.templates[2].container.image'],
      ['s', 'evil.example/s:1', 'spec.templates[2].sidecars[0].image'],
    ]);
    const [task] = extractFromManifest({
      apiVersion: 'tekton.dev/v1',
      kind: 'Task',
      spec: {
        steps: [
          { name: 'build', image: 'evil.example/t:1' },
          { name: 'ref', ref: { name: 'x' } },
        ],
      },
    });
    expect(task?.containers.map((c) => [c.name, c.image, c.judgedBy])).toEqual([
      ['build', 'evil.example/t:1', 'shape'],
    ]);
  });

  it('an object without anything pod-spec-shaped is skipped as before', () => {
    const [entry] = extractFromManifest({ kind: 'ConfigMap', data: { containers: 'x' } });
    expect(entry?.skipped).toBe('no pod template');
  });
});

describe('extractFromManifest: images that cannot be judged are returned as invalid', () => {
  const cases: [string, unknown, string][] = [
    ['null', null, 'image is null'],
    ['empty', '', 'image is empty'],
    ['blank', '   ', 'image is empty'],
    ['a number', 1234, 'image is a number, not a string'],
    ['a boolean (YAML 1.1 `no`)', false, 'image is a boolean, not a string'],
    ['a map', { repository: 'x' }, 'image is a object, not a string'],
    ['a list', ['x'], 'image is a list, not a string'],
  ];
  for (const [what, image, reason] of cases) {
    it(`image ${what}`, () => {
      const [entry] = extractFromManifest({ kind: 'Pod', spec: podSpec(image) });
      expect(entry?.containers).toMatchObject([{ name: 'app', invalid: reason }]);
    });
  }

  it('a container without image, a container that is not an object, containers not a list', () => {
    const [a] = extractFromManifest({
      kind: 'Pod',
      spec: { containers: [{ name: 'x' }, 'nginx'] },
    });
    expect(a?.containers.map((c) => c.invalid)).toEqual(['no image', 'container is not an object']);
    const [b] = extractFromManifest({
      kind: 'Deployment',
      spec: { template: { spec: { containers: { name: 'x', image: 'nginx' } } } },
    });
    expect(b?.containers.map((c) => c.invalid)).toEqual(['containers is not a list']);
  });
});

describe('extractFromManifest with source positions', () => {
  it('gives the line and column of each image value, and judges every duplicate', () => {
    // Prepare
    const text = [
      'apiVersion: v1', // 1
      'kind: Pod', // 2
      'metadata: {name: p}', // 3
      'spec:', // 4
      '  containers:', // 5
      '    - name: a', // 6
      '      image: nginx:1.27', // 7
      '      image: evil.example/x:1', // 8
    ].join('\n');
    const parsed = parseManifestYaml(text);
    // Act
    const [entry] = extractFromManifest(parsed.documents[0]?.value, parsed.source);
    // Assess
    expect(entry?.containers.map((c) => [c.image, c.pos])).toEqual([
      ['nginx:1.27', { line: 7, col: 14 }],
      ['evil.example/x:1', { line: 8, col: 14 }],
    ]);
  });

  it('List items carry their path from the document root', () => {
    const parsed = parseManifestYaml(
      'kind: List\nitems:\n  - kind: Pod\n    spec:\n      containers: [{name: a, image: x}]\n',
    );
    const [entry] = extractFromManifest(parsed.documents[0]?.value, parsed.source);
    expect(pathText(entry?.containers[0]?.path ?? [])).toBe('items[0].spec.containers[0].image');
    expect(entry?.containers[0]?.pos).toEqual({ line: 5, col: 37 });
  });
});
