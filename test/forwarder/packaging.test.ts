import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  bundle,
  OPTIONAL_EXTERNALS,
  startupInputs,
  startupOutputs,
} from '../../forwarder/build.ts';
import { FORWARDER_NODE_OPTIONS } from '../../forwarder/src/constants.ts';
import { FakeApiServer } from './fake-apiserver.ts';
import { FakeSink } from './fake-sink.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const deployDir = path.join(root, 'forwarder/deploy');

type Doc = { kind: string; metadata: { name: string }; [k: string]: unknown };

/** `kubectl kustomize`; where kubectl is missing, the same resources with the image override applied. */
async function render(): Promise<{ docs: Doc[]; by: string }> {
  try {
    const { stdout } = await run('kubectl', ['kustomize', deployDir], { timeout: 30_000 });
    return { docs: parseAllDocuments(stdout).map((d) => d.toJSON() as Doc), by: 'kubectl' };
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    const k = parseAllDocuments(
      readFileSync(path.join(deployDir, 'kustomization.yaml'), 'utf8'),
    )[0]?.toJSON() as {
      resources: string[];
      images: { name: string; newName: string; digest: string }[];
    };
    const image = k.images[0];
    const docs = k.resources.flatMap((r) =>
      parseAllDocuments(
        readFileSync(path.join(deployDir, r), 'utf8').replace(
          /image: regwatch-forwarder$/m,
          `image: ${image?.newName}@${image?.digest}`,
        ),
      ).map((d) => d.toJSON() as Doc),
    );
    return { docs, by: 'fallback' };
  }
}

/** Packages the forwarder never needs with a service-account token or a plain kubeconfig. */
const LAZY_PACKAGES = ['@kubernetes/client-node', '@aws-sdk/', '@smithy/', 'undici', 'yaml'];
const packageOf = (input: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? null;

let bundled: { out: string; result: Awaited<ReturnType<typeof bundle>> };
beforeAll(async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'regwatch-bundle-')), 'main.mjs');
  bundled = { out, result: await bundle(out) };
});

describe('forwarder packaging', () => {
  it('bundles main.ts into a start-up file and chunks that need nothing but Node built-ins, and runs', async () => {
    // Prepare
    const { out, result } = bundled;

    // Act
    const failed = await run(process.execPath, [out], {
      env: { PATH: process.env.PATH, REGWATCH_CLUSTER: 'c', REGWATCH_SINK: 'ftp://nope' },
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );

    // Assess
    expect(result.errors).toEqual([]);
    const outputs = new Set(Object.keys(result.metafile.outputs));
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports);
    const foreign = imports
      .map((i) => i.path)
      .filter((p) => !p.startsWith('node:') && !builtinModules.includes(p) && !outputs.has(p));
    expect([...new Set(foreign)].sort()).toEqual([...OPTIONAL_EXTERNALS].sort());
    // Every chunk sits under the entry's directory: copying that directory ships them all.
    const dir = path.relative(process.cwd(), path.dirname(out));
    expect([...outputs].filter((o) => !o.startsWith(`${dir}/`))).toEqual([]);
    // It loaded every module and reached config validation: exit 2 with the reason.
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('is neither "eventbridge" nor an http(s) URL');
  });

  it('keeps client-node, the AWS SDK, undici and yaml out of the start-up chunks (memory)', () => {
    // Prepare
    const { out, result } = bundled;

    // Act: the inputs of the entry and of every chunk it imports statically.
    const startup = startupInputs(result.metafile, out);
    const all = Object.values(result.metafile.outputs).flatMap((o) => Object.keys(o.inputs));

    // Assess: loaded at start-up they would cost the memory budget (docs/performance.md).
    const packages = (inputs: string[]) => [...new Set(inputs.map(packageOf))].filter(Boolean);
    expect(packages(startup).filter((p) => LAZY_PACKAGES.some((l) => p?.startsWith(l)))).toEqual(
      [],
    );
    // They are in the build (loaded when asked for): the check above is not vacuous.
    expect(packages(all)).toEqual(
      expect.arrayContaining(['@kubernetes/client-node', '@aws-sdk/client-eventbridge', 'yaml']),
    );
    expect(startup.some((i) => i.endsWith('forwarder/src/watcher.ts'))).toBe(true);
  });

  it('runs from a plain kubeconfig to an http sink without loading client-node, the AWS SDK or undici', async () => {
    // Prepare: a loader hook in the child records every file it loads.
    const api = await new FakeApiServer().start();
    const sink = await new FakeSink().start();
    const work = mkdtempSync(path.join(tmpdir(), 'regwatch-bundle-run-'));
    const record = path.join(work, 'loaded.txt');
    const hook = path.join(work, 'hook.mjs');
    writeFileSync(
      hook,
      [
        "import { registerHooks } from 'node:module';",
        "import { appendFileSync } from 'node:fs';",
        'registerHooks({ load(url, context, next) {',
        `  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(record)}, url + '\\n');`,
        '  return next(url, context);',
        '} });',
        '',
      ].join('\n'),
    );
    api.createPod('packaged', 'one');
    const child = spawn(process.execPath, ['--import', hook, bundled.out], {
      env: {
        PATH: process.env.PATH,
        NODE_OPTIONS: FORWARDER_NODE_OPTIONS,
        KUBECONFIG: api.writeKubeconfig(),
        REGWATCH_CLUSTER: 'packaged',
        REGWATCH_NAMESPACES: 'packaged',
        REGWATCH_SINK: sink.url,
        REGWATCH_BATCH_WAIT: '10ms',
        REGWATCH_METRICS_PORT: '0',
        REGWATCH_METRICS_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    // Act
    try {
      await sink.until(() => sink.accepted.some((e) => e.cluster === 'packaged'));
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    await sink.close();
    await api.close();

    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(sink.accepted.find((e) => e.cluster === 'packaged')?.pod.metadata.name).toBe('one');
    const loaded = [...new Set(readFileSync(record, 'utf8').trim().split('\n'))].map((u) =>
      path.relative(process.cwd(), new URL(u).pathname),
    );
    const { outputs } = bundled.result.metafile;
    const chunks = loaded.filter((f) => Object.hasOwn(outputs, f));
    expect(chunks).toEqual(
      expect.arrayContaining(startupOutputs(bundled.result.metafile, bundled.out)),
    );
    const packages = new Set(
      chunks.flatMap((o) => Object.keys(outputs[o]?.inputs ?? {}).map(packageOf)),
    );
    // The kubeconfig is YAML: that chunk alone is loaded on demand.
    expect(packages.has('yaml')).toBe(true);
    const heavy = [...packages].filter((p) =>
      LAZY_PACKAGES.some((l) => l !== 'yaml' && p?.startsWith(l)),
    );
    expect(heavy).toEqual([]);
  });

  it('sends to EventBridge from the bundle: the lazily loaded SDK chunk works', async () => {
    // Prepare: a loopback PutEvents endpoint (AWS JSON 1.1) and static test credentials.
    const api = await new FakeApiServer().start();
    const entries: { Source: string; DetailType: string; Detail: string }[] = [];
    const endpoint = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        Entries: typeof entries;
      };
      if (req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
        for (const e of body.Entries) entries.push(e);
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(
        JSON.stringify({
          FailedEntryCount: 0,
          Entries: body.Entries.map(() => ({ EventId: 'e' })),
        }),
      );
    });
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    const port = (endpoint.address() as AddressInfo).port;
    api.createPod('packaged-eb', 'two');
    const child = spawn(process.execPath, [bundled.out], {
      env: {
        PATH: process.env.PATH,
        NODE_OPTIONS: FORWARDER_NODE_OPTIONS,
        KUBECONFIG: api.writeKubeconfig(),
        REGWATCH_CLUSTER: 'packaged-eb',
        REGWATCH_NAMESPACES: 'packaged-eb',
        REGWATCH_SINK: 'eventbridge',
        REGWATCH_EVENT_BUS: 'regwatch-test',
        REGWATCH_BATCH_WAIT: '10ms',
        REGWATCH_METRICS_PORT: '0',
        REGWATCH_METRICS_HOST: '127.0.0.1',
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'test-secret',
        AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${port}`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

    // Act
    try {
      const end = Date.now() + 20_000;
      while (entries.length === 0 && child.exitCode === null && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    endpoint.close();
    await api.close();

    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(entries[0]).toMatchObject({ Source: 'regwatch.forwarder', DetailType: 'Pod Event' });
    expect(JSON.parse(entries[0]?.Detail ?? '{}')).toMatchObject({
      cluster: 'packaged-eb',
      reason: 'added',
      pod: { metadata: { name: 'two', namespace: 'packaged-eb' } },
    });
  });

  it('renders manifests with least privilege, hardening, probes and a digest-pinned image', async () => {
    // Act
    const { docs } = await render();

    // Assess
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'Namespace',
        'ServiceAccount',
      ].sort(),
    );
    const role = docs.find((d) => d.kind === 'ClusterRole') as unknown as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    ]);
    const dep = docs.find((d) => d.kind === 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            securityContext: Record<string, unknown>;
            containers: Record<string, unknown>[];
          };
        };
      };
    };
    expect(dep.spec.replicas).toBe(1);
    const pod = dep.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const c = pod.containers[0] as {
      image: string;
      securityContext: Record<string, unknown>;
      resources: { requests: object; limits: { memory: string } };
      env: { name: string; value?: string }[];
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
    };
    expect(c.image).toMatch(/^[a-z0-9.-]+\/[a-z0-9/._-]+@sha256:[0-9a-f]{64}$/);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources.limits.memory).toBeTruthy();
    expect(c.resources.requests).toBeTruthy();
    // The heap limits the memory limit was measured with (`npm run bench`).
    expect(c.env.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe(FORWARDER_NODE_OPTIONS);
    // A name given twice takes its last value: the first one would be a lie.
    const names = c.env.map((e) => e.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
  });

  it('pins the Dockerfile runtime base by digest and runs as non-root without a shell', () => {
    const dockerfile = readFileSync(path.join(root, 'forwarder/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(
      /RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-debian12@sha256:[0-9a-f]{64}/,
    );
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/nodejs\/bin\/node", "\/app\/main\.mjs"\]$/m);
    expect(dockerfile).toMatch(/^RUN node forwarder\/build\.ts \/out\/main\.mjs$/m);
    // The build's whole output directory (entry and chunks), not a chosen file.
    expect(dockerfile).toMatch(/^COPY --from=build \/out\/ \/app\/$/m);
  });
});
