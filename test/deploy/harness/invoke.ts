/**
 * Runs one function's bundle as the Lambda runtime would: a fresh Node process (the same
 * Node 24 binary as the tests), the template's environment plus the variables the runtime
 * itself sets, no HOME, the code copied to a folder of its own, and Node's permission model
 * allowing writes to a private /tmp only (the code folder is read-only as in Lambda, even for
 * root). The bundle is imported from `<code>/index.mjs`, the export named by `Handler`
 * checked, and each event invoked in turn with a Lambda-like context.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Invocation {
  /** What the handler returned, or the error it threw. */
  results: ({ ok: true; value: unknown } | { ok: false; error: string; name: string })[];
  /** The handler export's type: must be `function`. */
  handlerType: string;
  stdout: string;
  stderr: string;
}

export interface InvokeOptions {
  functionName: string;
  /** `index.handler`: file and export. */
  handler: string;
  codeDir: string;
  /** Exactly the template's variables, resolved. */
  environment: Record<string, string>;
  /** Runtime and loopback variables: region, credentials, endpoints. */
  runtime: Record<string, string>;
  events: unknown[];
  timeoutMs?: number;
}

const RUNNER = `
const [, , codeDir, file, exportName, eventsFile, resultFile, functionName] = process.argv;
const fs = await import('node:fs');
const out = { results: [], handlerType: 'missing' };
try {
  const mod = await import(codeDir + '/' + file + '.mjs');
  const handler = mod[exportName];
  out.handlerType = typeof handler;
  const events = JSON.parse(fs.readFileSync(eventsFile, 'utf8'));
  let n = 0;
  for (const event of events) {
    n++;
    const deadline = Date.now() + 30000;
    const context = {
      functionName, functionVersion: '$LATEST', memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      invokedFunctionArn: 'arn:aws:lambda:' + process.env.AWS_REGION + ':444455556666:function:' + functionName,
      awsRequestId: 'request-' + n, logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME, callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    try {
      out.results.push({ ok: true, value: (await handler(event, context)) ?? null });
    } catch (error) {
      out.results.push({ ok: false, error: String(error && error.message || error), name: String(error && error.name) });
    }
  }
} catch (error) {
  out.results.push({ ok: false, error: String(error && error.stack || error), name: 'ImportError' });
}
fs.writeFileSync(resultFile, JSON.stringify(out));
process.exit(0);
`;

export async function invokeBundle(options: InvokeOptions): Promise<Invocation> {
  const work = mkdtempSync(path.join(tmpdir(), `regwatch-${options.functionName}-`));
  const code = path.join(work, 'task');
  const scratch = path.join(work, 'tmp');
  cpSync(options.codeDir, code, { recursive: true });
  chmodSync(code, 0o555);
  const eventsFile = path.join(work, 'events.json');
  const resultFile = path.join(scratch, 'result.json');
  const runnerFile = path.join(work, 'runner.mjs');
  writeFileSync(eventsFile, JSON.stringify(options.events));
  writeFileSync(runnerFile, RUNNER);
  mkdirSync(scratch);
  const [file = 'index', exportName = 'handler'] = options.handler.split('.');
  const env: Record<string, string> = {
    ...options.environment,
    ...options.runtime,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    LAMBDA_TASK_ROOT: code,
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: options.handler,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin:/bin',
    TMPDIR: scratch,
  };
  const args = [
    '--permission',
    '--allow-fs-read=*',
    `--allow-fs-write=${scratch}`,
    runnerFile,
    code,
    file,
    exportName,
    eventsFile,
    resultFile,
    options.functionName,
  ];
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(
    (resolve, reject) => {
      execFile(
        process.execPath,
        args,
        { env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
        (error, out, err) => {
          if (error && (error as { killed?: boolean }).killed) {
            reject(new Error(`${options.functionName} timed out: ${err}`));
          } else resolve({ stdout: out, stderr: err });
        },
      );
    },
  );
  let parsed: Omit<Invocation, 'stdout' | 'stderr'>;
  try {
    parsed = JSON.parse(readFileSync(resultFile, 'utf8'));
  } catch {
    throw new Error(`${options.functionName} wrote no result:\n${stderr}\n${stdout.slice(-4000)}`);
  }
  return { ...parsed, stdout, stderr };
}
