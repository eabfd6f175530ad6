import { describe, expect, it } from 'vitest';
import { Lanes } from '../../lambdas/services/ingest-lanes.ts';

/** A step that finishes when told to, recording when it starts and ends. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    step: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
    },
    open: () => open(),
  };
}

describe('Lanes', () => {
  it('runs one key’s steps one at a time, in order, while other keys overlap', async () => {
    // Prepare
    const log: string[] = [];
    const lanes = new Lanes(4);
    const a1 = gate(log, 'a1');
    const b1 = gate(log, 'b1');

    // Act
    await lanes.ready('a');
    lanes.start('a', a1.step);
    await lanes.ready('b');
    lanes.start('b', b1.step);
    const secondA = lanes.ready('a').then(() => log.push('a ready'));
    await Promise.resolve();
    log.push('b1 and a1 running');
    b1.open();
    await new Promise((resolve) => setImmediate(resolve));
    const beforeA1 = [...log];
    a1.open();
    await secondA;
    await lanes.drain();

    // Assess
    expect(beforeA1).toEqual(['start a1', 'start b1', 'b1 and a1 running', 'end b1']);
    expect(log.slice(4)).toEqual(['end a1', 'a ready']);
    expect(lanes.running).toBe(0);
  });

  it('waits for a free lane when all are busy', async () => {
    // Prepare
    const log: string[] = [];
    const lanes = new Lanes(2);
    const steps = ['x', 'y'].map((k) => gate(log, k));
    for (const [i, k] of ['x', 'y'].entries()) {
      await lanes.ready(k);
      lanes.start(k, (steps[i] as ReturnType<typeof gate>).step);
    }

    // Act
    let zReady = false;
    const z = lanes.ready('z').then(() => {
      zReady = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const whileFull = zReady;
    steps[1]?.open();
    await z;

    // Assess
    expect(whileFull).toBe(false);
    expect(zReady).toBe(true);
    expect(lanes.running).toBe(1);
    steps[0]?.open();
    await lanes.drain();
  });

  it('without a key waits for every step (work spanning workloads)', async () => {
    // Prepare
    const log: string[] = [];
    const lanes = new Lanes(4);
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    lanes.start('a', a.step);
    lanes.start('b', b.step);

    // Act
    const all = lanes.ready().then(() => log.push('all ready'));
    a.open();
    await new Promise((resolve) => setImmediate(resolve));
    const afterA = [...log];
    b.open();
    await all;

    // Assess
    expect(afterA).toEqual(['start a', 'start b', 'end a']);
    expect(log.at(-1)).toBe('all ready');
  });

  it('throws a step’s failure once every step has settled, and from later readies', async () => {
    // Prepare
    const log: string[] = [];
    const lanes = new Lanes(4);
    const slow = gate(log, 'slow');
    lanes.start('bad', async () => {
      throw new Error('table unreachable');
    });
    lanes.start('slow', slow.step);

    // Act
    const drained = lanes.drain().catch((error: Error) => error.message);
    await new Promise((resolve) => setImmediate(resolve));
    const settledEarly = log.includes('end slow');
    slow.open();

    // Assess
    expect(await drained).toBe('table unreachable');
    expect(settledEarly).toBe(false);
    expect(log).toEqual(['start slow', 'end slow']);
    await expect(lanes.ready('other')).rejects.toThrow('table unreachable');
  });

  it('refuses a second step for a busy key and a width below one', () => {
    const lanes = new Lanes(2);
    lanes.start('a', () => new Promise(() => {}));
    expect(() => lanes.start('a', async () => {})).toThrow('already has a running step');
    expect(() => new Lanes(0)).toThrow(RangeError);
  });
});
