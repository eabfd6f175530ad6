import { spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRegisterForward } from '../../cli/commands/forward.ts';
import { EXIT } from '../../cli/context.ts';
import { reportError } from '../../cli/main.ts';
import { FakeApiServer } from './fake-apiserver.ts';
import { eventually, FakeSink } from './fake-sink.ts';

const root = path.resolve(import.meta.dirname, '../..');
let api: FakeApiServer;
let sink: FakeSink;
let kubeconfig: string;

beforeAll(async () => {
  api = await new FakeApiServer().start();
  sink = await new FakeSink().start();
  kubeconfig = api.writeKubeconfig();
});
afterAll(async () => {
  await sink.close();
  await api.close();
});

describe('forwarder entry points', () => {
  it('container entry: SIGTERM flushes buffered events to the sink and exits 0', async () => {
    // Prepare: a batch wait far longer than the test, so only the flush can send them.
    for (let i = 0; i < 3; i++) api.createPod('sigterm', `pod-${i}`);
    const child = spawn(process.execPath, [path.join(root, 'forwarder/src/main.ts')], {
      env: {
        PATH: process.env.PATH,
        KUBECONFIG: kubeconfig,
        REGWATCH_CLUSTER: 'entry-test',
        REGWATCH_NAMESPACES: 'sigterm',
        REGWATCH_SINK: sink.url,
        REGWATCH_SINK_TOKEN: 'from-env',
        REGWATCH_BATCH_WAIT: '10m',
        REGWATCH_METRICS_PORT: '0',
        REGWATCH_METRICS_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await eventually(() => stdout.includes('"watching pods"'));
    const before = sink.accepted.filter((e) => e.cluster === 'entry-test').length;

    // Act
    child.kill('SIGTERM');
    const code = await exited;

    // Assess
    expect(before).toBe(0);
    expect(code).toBe(0);
    const got = sink.accepted.filter((e) => e.cluster === 'entry-test');
    expect(got.map((e) => e.pod.metadata.name).sort()).toEqual(['pod-0', 'pod-1', 'pod-2']);
    expect(sink.authHeaders.at(-1)).toBe('Bearer from-env');
    const logs = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(logs.map((l) => l.msg)).toContain('forwarder stopped');
    expect(stdout).not.toContain('from-env');
  });

  it('regwatch forward: runs the same code from a kubeconfig and stops on signal', async () => {
    // Prepare
    api.createPod('cli', 'one');
    let stop: (s: string) => void = () => {};
    const stopped = new Promise<string>((r) => {
      stop = r;
    });
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d) => {
      err += String(d);
    });
    const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr, env: {}, cwd: root };
    let exit = -1;
    const program = new Command('regwatch').exitOverride();
    makeRegisterForward(() => stopped)(program, io, (c) => {
      exit = c;
    });

    // Act
    const done = program.parseAsync(
      [
        'forward',
        '--cluster',
        'laptop',
        '--sink',
        sink.url,
        '--kubeconfig',
        kubeconfig,
        '-n',
        'cli',
        '--batch-wait',
        '10ms',
      ],
      { from: 'user' },
    );
    await sink.until(() => sink.accepted.some((e) => e.cluster === 'laptop'));
    stop('SIGINT');
    await done;

    // Assess
    expect(exit).toBe(EXIT.ok);
    expect(sink.accepted.find((e) => e.cluster === 'laptop')?.pod.metadata.name).toBe('one');
    expect(err).toContain('"forwarder stopped"');
  });

  it('regwatch forward: bad settings are a usage error naming the setting', async () => {
    // Prepare
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d) => {
      err += String(d);
    });
    const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr, env: {}, cwd: root };
    const program = new Command('regwatch').exitOverride();
    makeRegisterForward(() => new Promise(() => {}))(program, io, () => {});

    // Act
    const code = await program
      .parseAsync(
        ['forward', '--cluster', 'x', '--sink', 'http://127.0.0.1:1/x', '--resync', 'often'],
        {
          from: 'user',
        },
      )
      .then(
        () => EXIT.ok,
        (e: unknown) => reportError(e, io),
      );

    // Assess
    expect(code).toBe(EXIT.usage);
    expect(err).toContain('resync: "often" is not a duration');
  });
});
