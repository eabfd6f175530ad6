import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auditEventKey } from '../../../lambdas/core/audit/outcome.ts';
import type { ContainerImage } from '../../../lambdas/core/types.ts';

const containers = [
  { kind: 'container', name: 'app', image: 'nginx:1.27' },
  { kind: 'initContainer', name: 'ïnit', image: 'reg.example/ü:1' },
] as ContainerImage[];

describe('auditEventKey', () => {
  it('keeps the stored encoding: the ID, then sha256 of timestamp, request and each container', () => {
    // Prepare: the encoding as first written, one hash update per part.
    const expected = (
      id: string,
      stamp: string,
      request: string,
      cs: readonly ContainerImage[],
    ) => {
      const h = createHash('sha256').update(`${stamp}\n${request}\n`);
      for (const c of cs) h.update(`${c.kind}\0${c.name}\0${c.image}\n`);
      const shown =
        id.length <= 128
          ? id
          : `sha256-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
      return `${shown}:${h.digest('hex').slice(0, 16)}`;
    };
    const cases: [string, string, string, ContainerImage[]][] = [
      ['6c1f9a52', '2025-01-01T00:00:00.000001Z', 'create /pods/ web/p', containers],
      ['x'.repeat(129), '', 'patch apps/deployments/ web/d', []],
      ['ü'.repeat(128), 't', 'r', containers.slice(1)],
      // Lone surrogates (JSON can carry them): every part ends in a newline, so joining the
      // parts can never pair one half with the next part's first character.
      [
        'id',
        't\ud83d',
        '\ude00r',
        [{ kind: 'container', name: '\ud800', image: 'x\udc00' }] as ContainerImage[],
      ],
    ];

    // Act
    const got = cases.map((c) => auditEventKey(...c));

    // Assess: equal to the reference, and to values the previous code produced.
    expect(got).toEqual(cases.map((c) => expected(...c)));
    expect(
      auditEventKey(
        '6c1f9a52-0b8e-4d37-a2c4-91e5f0d3b7a8',
        '2025-01-01T00:00:00.000001Z',
        'create /pods/ web/p',
        containers,
      ),
    ).toBe('6c1f9a52-0b8e-4d37-a2c4-91e5f0d3b7a8:9750c19b9b2e5dc3');
    expect(auditEventKey('x'.repeat(129), '', 'patch apps/deployments/ web/d', [])).toBe(
      'sha256-0ec9eb33e74510bcdd1f2ea55206e82f:d6fda426e26daa71',
    );
  });
});
