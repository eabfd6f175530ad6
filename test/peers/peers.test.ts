/**
 * The peer suites (gatekeeper-library allowedrepos / allowedreposv2, Kyverno's
 * restrict-image-registries family, Kubewarden trusted-repos), converted with
 * `regwatch allowlist convert` and run with `regwatch test`. Every case with a peer result
 * either agrees with the peer or says why not in `peer.differs`; the list of differences
 * is pinned here so a new one cannot slip in unexplained.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPolicyFile } from '../../cli/commands/allowlist-convert.ts';
import type { CliIo } from '../../cli/context.ts';
import { convertPolicies } from '../../lambdas/core/allowlist/convert/index.ts';
import { runCli } from '../helpers/cli.ts';

const HERE = import.meta.dirname;

interface JsonCase {
  file: string;
  name: string;
  passed: boolean;
  images: { image: string; actual: 'allowed' | string[] }[];
  peer?: { source: string; result: 'pass' | 'fail'; differs?: string };
}

describe('peer suites through regwatch test', () => {
  it('every case passes, and agrees with the peer or says why not', async () => {
    // Act
    const run = await runCli(['test', HERE, '-o', 'json']);
    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      files: { cases: JsonCase[] }[];
      summary: { tests: number; failed: number };
    };
    const cases = out.files.flatMap((f) => f.cases);
    expect(out.summary.failed).toBe(0);
    const differing: string[] = [];
    for (const c of cases) {
      expect(c.peer, `${c.name} has a peer result`).toBeDefined();
      if (!c.peer) continue;
      const regwatchPasses = c.images.every((i) => i.actual === 'allowed');
      const agrees = regwatchPasses === (c.peer.result === 'pass');
      expect(
        agrees,
        `${path.relative(HERE, c.file)} ${c.name}: differs iff a reason is given`,
      ).toBe(c.peer.differs === undefined);
      if (!agrees) differing.push(`${path.relative(HERE, c.file)}: ${c.name}`);
    }
    // Each difference is a raw-string comparison in the peer (see each case's peer.differs).
    expect(differing.sort()).toEqual([
      'gatekeeper/allowedrepos-raw-prefixes/raw-prefixes.regwatch-test.yaml: docker-hub-short-names',
      'gatekeeper/allowedrepos-raw-prefixes/raw-prefixes.regwatch-test.yaml: docker-io-look-alike-host',
      'gatekeeper/allowedrepos-raw-prefixes/raw-prefixes.regwatch-test.yaml: myregistry-is-a-docker-hub-account',
      'gatekeeper/allowedrepos-raw-prefixes/raw-prefixes.regwatch-test.yaml: project-look-alike',
      'gatekeeper/allowedrepos/allowedrepos.regwatch-test.yaml: regwatch-docker-io-spelling',
      'gatekeeper/allowedreposv2/allowedreposv2.regwatch-test.yaml: regwatch-docker-io-spelling',
      'gatekeeper/disallowedrepos/disallowedrepos.regwatch-test.yaml: regwatch-host-case',
      'kyverno/best-practices-cel-restrict-image-registries/restrict-image-registries.regwatch-test.yaml: regwatch-host-case',
      'kyverno/best-practices-restrict-image-registries/restrict-image-registries.regwatch-test.yaml: regwatch-host-case',
      'kyverno/best-practices-vpol-restrict-image-registries/restrict-image-registries.regwatch-test.yaml: regwatch-host-case',
    ]);
    // Every case taken from a peer suite itself (not derived) agrees.
    const fromSuites = cases.filter((c) => c.peer && !c.peer.source.startsWith('derived'));
    expect(fromSuites.length).toBeGreaterThanOrEqual(80);
    expect(fromSuites.every((c) => c.peer?.differs === undefined)).toBe(true);
  });

  it('lists the CEL of other-vpol/allowed-image-repos as not converted (so it has a hand-written allowlist)', async () => {
    // Prepare
    const io = { cwd: HERE } as CliIo;
    const docs = await readPolicyFile('kyverno/other-vpol-allowed-image-repos/policy.yaml', io);
    // Act
    const r = convertPolicies('kyverno', [docs]);
    // Assess
    expect(r.rules).toEqual([]);
    expect(r.unconvertible).toEqual([
      expect.objectContaining({
        policy: 'ValidatingPolicy/allowed-image-repos',
        field: 'spec.validations[0].expression',
      }),
    ]);
    const cli = await runCli([
      'allowlist',
      'convert',
      '--from',
      'kyverno',
      path.join(HERE, 'kyverno/other-vpol-allowed-image-repos/policy.yaml'),
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('not converted:');
  });
});
