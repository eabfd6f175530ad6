import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeAccess, plainFromKubeconfig } from '../../forwarder/src/kube-access.ts';
import { listPage } from '../../forwarder/src/kube-client.ts';
import { FakeApiServer, TOKEN } from './fake-apiserver.ts';

const kubeconfig = (
  user: string,
  cluster = '    server: https://10.0.0.1:6443\n    insecure-skip-tls-verify: true',
) =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: c\n  cluster:\n${cluster}`,
    'users:',
    `- name: u\n  user:\n${user}`,
    'contexts:',
    '- name: x\n  context:\n    cluster: c\n    user: u',
    'current-context: x',
    '',
  ].join('\n');

describe('reaching the API server without client-node', () => {
  it('reads a plain kubeconfig itself: server, bearer token, TLS settings', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-kube-access-'));
    const file = path.join(dir, 'config');
    writeFileSync(file, kubeconfig('    token: t0ken'));

    // Act
    const plain = await plainFromKubeconfig(kubeconfig('    token: t0ken'), file);
    const access = await loadKubeAccess(file, {});
    const { headers, agent } = await access.prepare('https://10.0.0.1:6443/api/v1/pods');

    // Assess
    expect(plain).toMatchObject({
      server: 'https://10.0.0.1:6443',
      token: 't0ken',
      insecure: true,
    });
    expect(access.server).toBe('https://10.0.0.1:6443');
    expect(headers).toEqual({ authorization: 'Bearer t0ken' });
    expect(agent).toBeDefined();
  });

  it('hands kubeconfigs it does not read itself (exec plugins, proxies) to client-node', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-kube-access-'));
    const file = path.join(dir, 'config');
    const exec =
      '    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: ["eks", "get-token"]';
    writeFileSync(file, kubeconfig(exec));

    // Act
    const plain = await plainFromKubeconfig(kubeconfig(exec), file);
    const proxied = await plainFromKubeconfig(
      kubeconfig(
        '    token: t',
        '    server: https://10.0.0.1:6443\n    proxy-url: http://proxy:3128',
      ),
      file,
    );
    const access = await loadKubeAccess(file, {});

    // Assess
    expect(plain).toBeNull();
    expect(proxied).toBeNull();
    expect(access.server).toBe('https://10.0.0.1:6443');
  });

  it('uses the service account in a cluster, reading its rotating token again', async () => {
    // Prepare: no kubeconfig anywhere, the in-cluster environment and service-account files.
    const sa = mkdtempSync(path.join(tmpdir(), 'regwatch-sa-'));
    writeFileSync(path.join(sa, 'token'), 'sa-token-1\n');
    writeFileSync(path.join(sa, 'ca.crt'), 'not checked until a connection is made');
    const env = {
      HOME: mkdtempSync(path.join(tmpdir(), 'regwatch-home-')),
      KUBERNETES_SERVICE_HOST: 'fd00::1',
      KUBERNETES_SERVICE_PORT: '443',
    };

    // Act
    const access = await loadKubeAccess(undefined, env, sa);
    const first = await access.prepare(`${access.server}/api/v1/pods`);

    // Assess
    expect(access.server).toBe('https://[fd00::1]:443');
    expect(first.headers).toEqual({ authorization: 'Bearer sa-token-1' });
    expect(first.agent).toBeDefined();
  });

  it('lists pods through client-node for an exec-plugin kubeconfig (token from the plugin)', async () => {
    // Prepare: the plugin is node printing an ExecCredential with the fake server's token.
    const api = await new FakeApiServer().start();
    api.createPod('exec', 'via-plugin');
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-kube-access-'));
    const file = path.join(dir, 'config');
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      status: { token: TOKEN },
    });
    const exec = [
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1beta1',
      `      command: ${JSON.stringify(process.execPath)}`,
      `      args: ["-e", ${JSON.stringify(`process.stdout.write(${JSON.stringify(credential)})`)}]`,
      '      interactiveMode: Never',
    ].join('\n');
    writeFileSync(
      file,
      kubeconfig(
        exec,
        `    server: http://127.0.0.1:${api.port}\n    insecure-skip-tls-verify: true`,
      ),
    );

    // Act
    const access = await loadKubeAccess(file, {});
    const items: unknown[] = [];
    const meta = await listPage(
      access,
      '/api/v1/namespaces/exec/pods',
      {},
      AbortSignal.timeout(20_000),
      { maxItemBytes: 1024 * 1024, onItem: (i) => items.push(i) },
    ).finally(() => api.close());

    // Assess
    expect(await plainFromKubeconfig(readFileSync(file, 'utf8'), file)).toBeNull();
    expect((await access.prepare(`${access.server}/api/v1/pods`)).headers.authorization).toBe(
      `Bearer ${TOKEN}`,
    );
    expect(items).toMatchObject([{ metadata: { name: 'via-plugin', namespace: 'exec' } }]);
    expect(meta.resourceVersion).toMatch(/^\d+$/);
  });
});
