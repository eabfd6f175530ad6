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
    const plain = plainFromKubeconfig(kubeconfig('    token: t0ken'), file);
    const access = await loadKubeAccess(file, {});
    const { headers, dispatcher } = await access.prepare('https://10.0.0.1:6443/api/v1/pods');

    // Assess
    expect(plain).toMatchObject({
      server: 'https://10.0.0.1:6443',
      token: 't0ken',
      insecure: true,
    });
    expect(access.server).toBe('https://10.0.0.1:6443');
    expect(headers).toEqual({ authorization: 'Bearer t0ken' });
    expect(dispatcher).toBeDefined();
  });

  it('hands kubeconfigs it does not read itself (exec plugins, proxies) to client-node', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'regwatch-kube-access-'));
    const file = path.join(dir, 'config');
    const exec =
      '    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: ["eks", "get-token"]';
    writeFileSync(file, kubeconfig(exec));

    // Act
    const plain = plainFromKubeconfig(kubeconfig(exec), file);
    const proxied = plainFromKubeconfig(
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
});
