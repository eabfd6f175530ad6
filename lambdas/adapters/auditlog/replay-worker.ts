/**
 * Parallel replay of one large JSON-lines audit log. The file is cut at newlines into more
 * ranges than threads; the main thread and worker threads take the next range as each becomes
 * free (so a worker that starts late, or a core that is busy with something else, gets less),
 * and run the same pipeline on it. Each range reports its finding candidates in file order and
 * its counts with line numbers counted from the range's start; merged in range order they are
 * exactly what a sequential read gives.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { type CompiledAllowlist, compileValidated } from '../../core/allowlist/compile.ts';
import type { AllowlistDocument } from '../../core/allowlist/index.ts';
import type { Decider } from '../../core/evaluate.ts';
import type { FindingCandidate } from '../../core/types.ts';
import { DecisionCache, evaluateAuditLog, type PipelineCounts } from './replay-pipeline.ts';

export interface ReplayRangeTask {
  path: string;
  /** Name used in records (the file's base name). */
  file: string;
  cluster: string | undefined;
  /** `--at` in epoch ms, or null: each event at its own time. */
  atMs: number | null;
  range: { start: number; end: number };
  /** `--max-record-bytes`, when given. */
  maxRecordBytes?: number | undefined;
}

export interface ReplayRangeResult {
  counts: PipelineCounts;
  candidates: FindingCandidate[];
}

/** The pipeline on one range of a JSON-lines file. */
export async function replayRange(
  task: ReplayRangeTask,
  decider: Decider,
): Promise<ReplayRangeResult> {
  const candidates: FindingCandidate[] = [];
  const counts = await evaluateAuditLog(
    task.path,
    decider,
    {
      file: task.file,
      cluster: task.cluster,
      at: task.atMs === null ? null : new Date(task.atMs),
      lines: true,
      range: task.range,
      maxRecordBytes: task.maxRecordBytes,
    },
    (c) => candidates.push(c),
  );
  return { counts, candidates };
}

interface WorkerInit {
  /** The document the main thread compiled (a compiled allowlist cannot cross threads). */
  allowlist: AllowlistDocument;
  /** Its compiled `version`: the worker checks that it compiled the same allowlist. */
  version: string;
}

type FromWorker =
  | { kind: 'ready' }
  | { kind: 'result'; result: ReplayRangeResult }
  | { kind: 'failed'; error: string };

/** One worker thread that replays ranges, one at a time. */
class RangeWorker {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private waiting: { resolve: (r: ReplayRangeResult) => void; reject: (e: Error) => void } | null =
    null;
  private failure: Error | null = null;

  constructor(init: WorkerInit) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { replayWorker: init } });
    let readyResolve = () => {};
    let readyReject = (_: Error) => {};
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      readyReject(err);
      this.waiting?.reject(err);
      this.waiting = null;
    };
    this.worker.on('message', (m: FromWorker) => {
      if (m.kind === 'ready') readyResolve();
      else if (m.kind === 'failed') fail(new Error(`replay worker: ${m.error}`));
      else {
        this.waiting?.resolve(m.result);
        this.waiting = null;
      }
    });
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`replay worker stopped (exit code ${code})`)));
  }

  /** Resolves once the worker has loaded and compiled the allowlist. */
  started(): Promise<void> {
    return this.ready;
  }

  run(task: ReplayRangeTask): Promise<ReplayRangeResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.worker.postMessage(task);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Replays `tasks` (ranges of one file, in file order) on this thread and `workers` worker
 * threads; results come back in task order. `allowlist` must be compiled from `document`.
 */
export async function replayRanges(
  tasks: readonly ReplayRangeTask[],
  opts: {
    allowlist: CompiledAllowlist;
    document: AllowlistDocument;
    decider: Decider;
    workers: number;
    /** Told about each range as it is done (in completion order): for progress. */
    onRange?: ((result: ReplayRangeResult) => void) | undefined;
  },
): Promise<ReplayRangeResult[]> {
  const results: (ReplayRangeResult | undefined)[] = new Array(tasks.length);
  const done = (i: number, r: ReplayRangeResult) => {
    results[i] = r;
    opts.onRange?.(r);
  };
  let next = 0;
  const take = () => (next < tasks.length ? next++ : -1);
  const pool = Array.from(
    { length: Math.min(opts.workers, tasks.length - 1) },
    () => new RangeWorker({ allowlist: opts.document, version: opts.allowlist.version }),
  );
  let stop = false;
  const inWorker = async (w: RangeWorker) => {
    try {
      // A range is taken only once the worker can start on it at once.
      await w.started();
      for (let i = take(); i >= 0 && !stop; i = take()) {
        done(i, await w.run(tasks[i] as ReplayRangeTask));
      }
    } finally {
      await w.close();
    }
  };
  const here = async () => {
    for (let i = take(); i >= 0 && !stop; i = take()) {
      done(i, await replayRange(tasks[i] as ReplayRangeTask, opts.decider));
    }
  };
  const loops = [here(), ...pool.map(inWorker)];
  try {
    await Promise.all(loops);
  } catch (err) {
    stop = true;
    await Promise.allSettled(loops);
    throw err;
  }
  return results.map((r, i) => {
    if (!r) throw new Error(`replay range ${i} was not read`);
    return r;
  });
}

/**
 * Worker side: compile the allowlist once, then replay each range the main thread sends. The
 * document is the one the main thread validated and compiled (`loadAllowlistDocument`), so it
 * is compiled as the main thread did, without validating it again; the versions must agree.
 */
async function serve(init: WorkerInit): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const allowlist = compileValidated(init.allowlist);
  if (allowlist.version !== init.version) {
    port.postMessage({
      kind: 'failed',
      error: `compiled allowlist version ${allowlist.version}, expected ${init.version}`,
    } satisfies FromWorker);
    return;
  }
  const decider = new DecisionCache(allowlist);
  port.on('message', (task: ReplayRangeTask) => {
    replayRange(task, decider).then(
      (result) => port.postMessage({ kind: 'result', result } satisfies FromWorker),
      (err: Error) =>
        port.postMessage({ kind: 'failed', error: err.stack ?? String(err) } satisfies FromWorker),
    );
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}

// Only when started by `RangeWorker` (test runners run test files in workers too).
const init = (workerData as { replayWorker?: WorkerInit } | null)?.replayWorker;
if (parentPort && init) await serve(init);
