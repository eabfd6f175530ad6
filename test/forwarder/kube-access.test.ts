import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKubeAccess, plainFromKubeconfig } from '../../forwarder/src/kube-access.ts';

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
});
