/**
 * `check -f`: manifest files, directories (recursive: `.yaml`, `.yml`, `.json`) and stdin read
 * into the containers to judge. One file that cannot be read or parsed is a problem with file
 * and line; the others are still judged, and the run exits 2 at the end.
 */
import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ManifestError, UsageError } from '../lambdas/core/errors.ts';
import { extractFromManifest, type JsonPath } from '../lambdas/core/kube/manifest.ts';
import { parseManifestYaml } from '../lambdas/core/kube/manifest-yaml.ts';
import type { CliIo } from './context.ts';
import type { CheckProblem, CheckSource } from './output/check-result.ts';

/** Larger than any rendered chart; bounds memory for one file or stdin. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export interface ManifestItem {
  image: string;
  /** Why the image cannot be judged (an `invalid-reference`), or null. */
  invalid: string | null;
  namespace: string | undefined;
  source: CheckSource;
}

export interface ManifestInput {
  items: ManifestItem[];
  problems: CheckProblem[];
  files: number;
  /** Kinds judged by shape (not known to regwatch), for the note under the output. */
  shapeKinds: Set<string>;
  /** Documents that are not objects (a bare string or number): nothing to judge, said once each. */
  notes: string[];
}

/** `spec.template.spec.containers[0].image`; odd keys quoted: `metadata.annotations["a.b"]`. */
export function formatPath(p: JsonPath): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function listFiles(full: string, target: string, problems: CheckProblem[]): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(full, { recursive: true, withFileTypes: true });
  } catch (err) {
    problems.push({
      file: target,
      line: null,
      column: null,
      message: `cannot read directory: ${(err as Error).message}`,
    });
    return [];
  }
  const files: string[] = [];
  for (const e of entries) {
    if (!MANIFEST_EXTENSIONS.has(path.extname(e.name).toLowerCase())) continue;
    const file = path.join(e.parentPath, e.name);
    // A symlink to a manifest is a manifest (kubectl follows it too).
    if (e.isFile() || (e.isSymbolicLink() && statSync(file, { throwIfNoEntry: false })?.isFile()))
      files.push(file);
  }
  return files.sort();
}

async function readBounded(stream: Readable): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += b.length;
    if (size > MAX_MANIFEST_BYTES) return null;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function addText(
  text: string,
  file: string,
  defaultNs: string | undefined,
  out: ManifestInput,
): void {
  let parsed: ReturnType<typeof parseManifestYaml>;
  try {
    parsed = parseManifestYaml(text);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    out.problems.push({ file, line: null, column: null, message: err.message });
    return;
  }
  for (const p of parsed.problems) {
    out.problems.push({ file, line: p.line, column: p.col, message: p.message });
  }
  for (const doc of parsed.documents) {
    let entries: ReturnType<typeof extractFromManifest>;
    try {
      entries = extractFromManifest(doc.value, parsed.source);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      out.problems.push({
        file,
        line: null,
        column: null,
        message: `document ${doc.index + 1}: ${err.message}`,
      });
      continue;
    }
    for (const entry of entries) {
      if (entry.skipped === 'not a Kubernetes object') {
        // A scalar cannot hold a container, so it hides nothing: a note, not a failure (a
        // pre-commit hook passes every YAML file of a repository). Once per document.
        const note = `${file}: document ${doc.index + 1} is not a Kubernetes object (skipped)`;
        if (out.notes.at(-1) !== note) out.notes.push(note);
        continue;
      }
      for (const c of entry.containers) {
        if (c.judgedBy === 'shape') out.shapeKinds.add(entry.kind || '(no kind)');
        const namespace = entry.namespace ?? defaultNs;
        out.items.push({
          image: c.image,
          invalid: c.invalid,
          namespace,
          source: {
            file,
            kind: entry.kind,
            name: entry.name,
            namespace: namespace ?? null,
            container: c.name,
            containerKind: c.kind,
            judgedBy: c.judgedBy,
            document: doc.index,
            path: formatPath(c.path),
            line: c.pos?.line ?? null,
            column: c.pos?.col ?? null,
          },
        });
      }
    }
  }
}

/** Reads every `-f` target. A missing path is a usage error (nothing was asked for). */
export async function readManifests(
  targets: readonly string[],
  io: CliIo,
  defaultNs: string | undefined,
): Promise<ManifestInput> {
  const out: ManifestInput = {
    items: [],
    problems: [],
    files: 0,
    shapeKinds: new Set(),
    notes: [],
  };
  for (const target of targets) {
    if (target === '-') {
      out.files++;
      const text = await readBounded(io.stdin);
      if (text === null) {
        out.problems.push({
          file: '-',
          line: null,
          column: null,
          message: `stdin is larger than ${MAX_MANIFEST_BYTES} bytes`,
        });
      } else addText(text, '-', defaultNs, out);
      continue;
    }
    const full = path.resolve(io.cwd, target);
    const stat = statSync(full, { throwIfNoEntry: false });
    if (!stat) throw new UsageError(`cannot read manifest ${target}: no such file or directory`);
    const files = stat.isDirectory() ? listFiles(full, target, out.problems) : [full];
    for (const file of files) {
      out.files++;
      const rel = (path.relative(io.cwd, file) || file).split(path.sep).join('/');
      let text: string;
      try {
        const size = statSync(file).size;
        if (size > MAX_MANIFEST_BYTES) {
          out.problems.push({
            file: rel,
            line: null,
            column: null,
            message: `larger than ${MAX_MANIFEST_BYTES} bytes`,
          });
          continue;
        }
        text = readFileSync(file, 'utf8');
      } catch (err) {
        out.problems.push({
          file: rel,
          line: null,
          column: null,
          message: `cannot read: ${(err as Error).message}`,
        });
        continue;
      }
      addText(text, rel, defaultNs, out);
    }
  }
  return out;
}
