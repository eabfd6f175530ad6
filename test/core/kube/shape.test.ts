import { describe, expect, it } from 'vitest';
import { containersByShape, findPodSpecs } from '../../../lambdas/core/kube/shape.ts';

describe('findPodSpecs', () => {
  it('finds pod specs at any depth and prefixes names when there are several', () => {
    // Prepare
    const value = {
      spec: {
        a: { template: { spec: { containers: [{ name: 'main', image: 'x:1' }] } } },
        b: [{ podSpec: { initContainers: [{ name: 'main', image: 7 }] } }],
      },
    };
    // Act
    const found = findPodSpecs(value);
    // Assess
    expect(found.specs.map((s) => s.path)).toEqual(['spec.a.template.spec', 'spec.b[0].podSpec']);
    expect(containersByShape(found).map((c) => [c.name, c.image])).toEqual([
      ['spec.a.template.spec/main', 'x:1'],
      ['spec.b[0].podSpec/main', '<invalid image: number 7>'],
    ]);
  });

  it('needs a list holding an object with an image: schemas and look-alikes are not pod specs', () => {
    expect(
      findPodSpecs({ containers: { type: 'array', items: { properties: { image: {} } } } }).specs,
    ).toEqual([]);
    expect(findPodSpecs({ containers: ['nginx'] }).specs).toEqual([]);
    expect(findPodSpecs({ containers: [{ name: 'a' }] }).specs).toEqual([]);
  });

  it('skips the keys it is told to at the top level only', () => {
    const spec = { containers: [{ image: 'x' }] };
    expect(
      findPodSpecs(
        { metadata: { spec }, spec: { metadata: spec } },
        { skipTopLevel: ['metadata'] },
      ).specs.map((s) => s.path),
    ).toEqual(['spec.metadata']);
  });

  it('is bounded: a body nested 200,000 deep does not overflow the stack and says it stopped', () => {
    // Prepare
    let deep: unknown = { containers: [{ image: 'x' }] };
    for (let i = 0; i < 200_000; i++) deep = [deep];
    // Act
    const found = findPodSpecs(deep);
    // Assess
    expect(found.truncated).toBe(true);
    expect(found.specs).toEqual([]);
  });

  it('is bounded in nodes: a very wide body is cut and flagged', () => {
    const wide = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, { v: i }]));
    expect(findPodSpecs(wide, { maxNodes: 1000 }).truncated).toBe(true);
    expect(findPodSpecs(wide).truncated).toBe(false);
  });
});
