import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bundle, OPTIONAL_EXTERNALS } from '../../forwarder/build.ts';
import { FORWARDER_NODE_OPTIONS } from '../../forwarder/src/constants.ts';

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

describe('forwarder packaging', () => {
  it('bundles main.ts into one file that needs nothing but Node built-ins, and runs', async () => {
    // Prepare
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'regwatch-bundle-')), 'main.mjs');

    // Act
    const result = await bundle(out);
    const failed = await run(process.execPath, [out], {
      env: { PATH: process.env.PATH, REGWATCH_CLUSTER: 'c', REGWATCH_SINK: 'ftp://nope' },
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );

    // Assess
    expect(result.errors).toEqual([]);
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports);
    const foreign = imports
      .map((i) => i.path)
      .filter((p) => !p.startsWith('node:') && !builtinModules.includes(p));
    expect([...new Set(foreign)].sort()).toEqual([...OPTIONAL_EXTERNALS].sort());
    // It loaded every module and reached config validation: exit 2 with the reason.
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('is neither "eventbridge" nor an http(s) URL');
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
    expect(dockerfile).toContain('node forwarder/build.ts');
  });
});
