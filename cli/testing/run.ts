/**
 * Runs allowlist test files: loads each file's allowlist (or converts its peer policies),
 * judges every image of every test, and compares with what the test expects. A bad test
 * file (syntax, schema, a missing manifest, an invalid allowlist, policies that do not fully
 * convert) throws a named error; a wrong expectation is a failed test, never an error.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  type CompiledAllowlist,
  compileAllowlist,
  parseAllowlist,
} from '../../lambdas/core/allowlist/index.ts';
import { AllowlistError, UsageError, ValidationError } from '../../lambdas/core/errors.ts';
import { extractFromManifest } from '../../lambdas/core/kube/manifest.ts';
import type { Decision, Scope } from '../../lambdas/core/types.ts';
import { readPolicyFile } from '../commands/allowlist-convert.ts';
import type { CliIo } from '../context.ts';
import { type Expectation, type TestCase, type TestFile, testFileSchema } from './file.ts';

export const TEST_FILE_SUFFIXES = ['.regwatch-test.yaml', '.regwatch-test.yml'] as const;

/** Test files of the arguments: files as given, directories searched (sorted, no node_modules). */
export function findTestFiles(targets: readonly string[], io: CliIo): string[] {
  const out: string[] = [];
  for (const target of targets.length > 0 ? targets : ['.']) {
    const full = path.resolve(io.cwd, target);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(full);
    } catch {
      throw new UsageError(`cannot read ${target}: no such file or directory`);
    }
    if (!stat.isDirectory()) {
      out.push(full);
      continue;
    }
    const found = readdirSync(full, { recursive: true, withFileTypes: true })
      .filter(
        (e) =>
          e.isFile() &&
          TEST_FILE_SUFFIXES.some((s) => e.name.endsWith(s)) &&
          !path.join(e.parentPath, e.name).split(path.sep).includes('node_modules'),
      )
      .map((e) => path.join(e.parentPath, e.name))
      .sort();
    for (const x of found) out.push(x);
  }
  if (out.length === 0) {
    throw new UsageError(`no *${TEST_FILE_SUFFIXES[0]} files under ${targets.join(' ') || '.'}`);
  }
  return [...new Set(out)];
}

export interface ImageResult {
  image: string;
  /** `Pod/name container` for manifest images, `''` for inline ones. */
  where: string;
  expected: Expectation | null;
  actual: Expectation;
  matchedRule: string | null;
  messages: string[];
  ok: boolean;
}

export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  images: ImageResult[];
  /** Images the test expects a result for that the resources do not hold. */
  missing: string[];
  peer: TestCase['peer'];
}

export interface FileResult {
  file: string;
  name: string;
  cases: CaseResult[];
}

/** Loads, validates and runs one test file; `now` is used when the file gives no `at`. */
export async function runTestFile(file: string, io: CliIo, now: Date): Promise<FileResult> {
  const spec = await loadTestFile(file, io);
  const dir = path.dirname(file);
  const allowlist = await loadAllowlist(spec, dir, file, io);
  const at = spec.at ? new Date(spec.at) : now;
  const cases: CaseResult[] = [];
  for (const test of spec.tests) cases.push(await runCase(test, allowlist, dir, file, at, io));
  return { file, name: spec.name ?? path.basename(file), cases };
}

async function loadTestFile(file: string, io: CliIo): Promise<TestFile> {
  const docs = await readPolicyFile(file, io);
  if (docs.length !== 1) {
    throw new ValidationError(`${file}: a test file holds exactly one YAML document`);
  }
  const result = testFileSchema.safeParse(docs[0]);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({
      path: i.path.length > 0 ? i.path.map(String).join('.') : '(root)',
      message: i.message,
    }));
    throw new ValidationError(`${file} is not a valid test file`, issues);
  }
  return result.data;
}

async function loadAllowlist(
  spec: TestFile,
  dir: string,
  file: string,
  io: CliIo,
): Promise<CompiledAllowlist> {
  if (spec.allowlist !== undefined) {
    const full = path.resolve(dir, spec.allowlist);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch {
      throw new ValidationError(`${file}: cannot read allowlist ${spec.allowlist}`);
    }
    return compileAllowlist(parseAllowlist(text, full));
  }
  const convert = spec.convert;
  if (!convert) throw new ValidationError(`${file}: give either allowlist or convert`);
  const { convertPolicies } = await import('../../lambdas/core/allowlist/convert/index.ts');
  const parsed = [];
  for (const policy of convert.files) {
    parsed.push(await readPolicyFile(path.resolve(dir, policy), io));
  }
  const result = convertPolicies(convert.from, parsed);
  if (result.unconvertible.length > 0) {
    throw new AllowlistError(
      `${file}: the ${convert.from} policies do not convert fully`,
      result.unconvertible.map((n) => ({ path: `${n.policy} ${n.field}`, message: n.message })),
    );
  }
  return compileAllowlist(result.document);
}

interface Subject {
  image: string;
  where: string;
  scope: Scope;
}

async function subjectsOf(
  test: TestCase,
  dir: string,
  file: string,
  io: CliIo,
): Promise<Subject[]> {
  if (test.images) {
    return test.images.map((image) => ({
      image,
      where: '',
      scope: { cluster: test.cluster, namespace: test.namespace },
    }));
  }
  const manifest = test.manifest ?? '';
  let docs: unknown[];
  try {
    docs = await readPolicyFile(path.resolve(dir, manifest), io);
  } catch (err) {
    if (err instanceof UsageError) {
      throw new ValidationError(`${file}: test "${test.name}": ${err.message}`);
    }
    throw err;
  }
  const wanted = test.objects ? new Set(test.objects) : null;
  const out: Subject[] = [];
  const found = new Set<string>();
  for (const entry of docs.flatMap((d) => extractFromManifest(d))) {
    const key = `${entry.kind}/${entry.name}`;
    if (wanted && !wanted.has(key) && !wanted.has(entry.name)) continue;
    found.add(key).add(entry.name);
    for (const c of entry.containers) {
      out.push({
        image: c.image,
        where: `${key} ${c.kind === 'container' ? '' : `${c.kind} `}${c.name}`,
        scope: { cluster: test.cluster, namespace: entry.namespace ?? test.namespace },
      });
    }
  }
  for (const name of wanted ?? []) {
    if (!found.has(name)) {
      throw new ValidationError(`${file}: test "${test.name}": ${manifest} has no object ${name}`);
    }
  }
  return out;
}

function actualOf(d: Decision): Expectation {
  return d.allowed ? 'allowed' : [...new Set(d.violations.map((v) => v.rule))].sort();
}

function same(a: Expectation | null, b: Expectation): boolean {
  if (a === null) return false;
  if (a === 'allowed' || b === 'allowed') return a === b;
  return [...a].sort().join(',') === [...b].sort().join(',');
}

async function runCase(
  test: TestCase,
  allowlist: CompiledAllowlist,
  dir: string,
  file: string,
  at: Date,
  io: CliIo,
): Promise<CaseResult> {
  const subjects = await subjectsOf(test, dir, file, io);
  const images: ImageResult[] = subjects.map((s) => {
    const decision = allowlist.decide(s.image, s.scope, at);
    const expected = Object.hasOwn(test.expect, s.image) ? (test.expect[s.image] ?? null) : null;
    const actual = actualOf(decision);
    return {
      image: s.image,
      where: s.where,
      expected,
      actual,
      matchedRule: decision.matchedRule,
      messages: decision.violations.map((v) => v.message),
      ok: same(expected, actual),
    };
  });
  const seen = new Set(subjects.map((s) => s.image));
  const missing = Object.keys(test.expect).filter((image) => !seen.has(image));
  return {
    file,
    name: test.name,
    passed: missing.length === 0 && images.every((i) => i.ok),
    images,
    missing,
    peer: test.peer,
  };
}
