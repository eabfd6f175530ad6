import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTables,
  LOCAL_TABLE_NAMES,
  regwatchTables,
} from '../../lambdas/adapters/dynamodb/index.ts';
import { compileAllowlist, parseAllowlist } from '../../lambdas/core/allowlist/index.ts';
import { ingestPodEvents } from '../../lambdas/services/ingest.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type LocalDynamo, startDynalite } from '../helpers/dynalite.ts';
import { runningPod } from '../helpers/pod-events.ts';

const CACHE = '444455556666.dkr.ecr.eu-central-1.amazonaws.com/docker-hub';
const ALLOWLIST = `version: 1
pullThroughCache:
  - prefix: "${CACHE}"
    upstream: docker.io
rules:
  - id: hub-library
    registry: docker.io
    repository: "library/*"
`;

function pod(name: string, image: string) {
  return runningPod({ name, image });
}

describe('regwatch inventory list --image for a pull-through cache repository', () => {
  let dynamo: LocalDynamo;
  let target: string[];

  beforeAll(async () => {
    dynamo = await startDynalite();
    await createTables(dynamo.client, LOCAL_TABLE_NAMES);
    const tables = regwatchTables(dynamo.doc, LOCAL_TABLE_NAMES);
    const doc = parseAllowlist(ALLOWLIST);
    await tables.allowlist.applyDiff(doc);
    await ingestPodEvents(
      [pod('cached', `${CACHE}/library/nginx:1.27`), pod('hub', 'nginx:1.27')],
      {
        allowlist: { current: async () => compileAllowlist(doc) },
        findings: tables.findings,
        clock: () => new Date('2026-01-10T10:00:01Z'),
        minAlertSeverity: 'low',
        inventory: { store: tables.inventory, findings: tables.findings },
      },
    );
    target = ['--dynamodb-endpoint', dynamo.endpoint];
  });
  afterAll(() => dynamo.stop());

  it('finds the cache repository, stored under its upstream host, and only it', async () => {
    // Act
    const cached = await runCli([
      'inventory',
      'list',
      ...target,
      '--image',
      `${CACHE}/library/nginx`,
      '-o',
      'json',
    ]);
    const hub = await runCli(['inventory', 'list', ...target, '--image', 'nginx', '-o', 'json']);

    // Assess
    expect(cached.code).toBe(0);
    expect(
      (jsonLines(cached.stdout) as { workload: { name: string } }[]).map((l) => l.workload.name),
    ).toEqual(['cached']);
    expect(
      (jsonLines(hub.stdout) as { workload: { name: string } }[]).map((l) => l.workload.name),
    ).toEqual(['hub']);
  });
});
