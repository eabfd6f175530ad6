/**
 * Manifest YAML read the way kubectl reads it (sigs.k8s.io/yaml on go-yaml v2, i.e. YAML 1.1):
 * `<<` merge keys applied, `!!binary` decoded to text, aliases expanded, duplicate keys
 * reported. The `yaml` library parses; this module turns its nodes into plain values itself so
 * that every value keeps its source position (for SARIF, annotations and messages), a key that
 * appears twice keeps the shadowed value (an attacker's first `image:` is still judged), and
 * alias expansion is bounded (a "billion laughs" document is a named error, not an OOM).
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  visit,
} from 'yaml';
import { ManifestError } from '../errors.ts';

export interface SourcePos {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
}

/** A problem that makes one document (or file) unreadable or ambiguous; the run goes on. */
export interface ManifestProblem extends SourcePos {
  message: string;
}

export interface ManifestDocument {
  /** 0-based index of the document in its stream. */
  index: number;
  value: unknown;
}

/** Source positions and shadowed duplicates of the values built from one text. */
export interface ManifestSourceMap {
  /** Position of the value under `key` of `container` (an object or array built here). */
  at(container: object, key: string | number): SourcePos | undefined;
  /** Position of an object or array built here. */
  of(value: object): SourcePos | undefined;
  /** Earlier values (and where they are) of a key that appeared more than once in a mapping. */
  shadowed(container: object, key: string): readonly Shadowed[];
}

export interface ParsedManifests {
  documents: ManifestDocument[];
  problems: ManifestProblem[];
  source: ManifestSourceMap;
}

/** Nodes one document may expand to beyond twice its own node count (aliases re-use subtrees). */
export const ALIAS_EXPANSION_BUDGET = 100_000;
/** The same for all documents of a text kept together (bounds memory across many documents). */
export const TOTAL_EXPANSION_BUDGET = 1_000_000;
/** Deeper nesting than any real manifest; bounds the recursion. */
export const MAX_DEPTH = 256;

export interface Shadowed {
  value: unknown;
  pos: SourcePos | undefined;
}

type Positions = Map<string | number, SourcePos>;

const textDecoder = new TextDecoder('utf-8');

/** Parses a multi-document YAML (or JSON) text; a document that cannot be read is a problem. */
export function parseManifestYaml(text: string): ParsedManifests {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    version: '1.1',
    merge: true,
    uniqueKeys: false,
    lineCounter,
    prettyErrors: false,
  });
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [];
  const pos = (offset: number): SourcePos => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const valuePositions = new WeakMap<object, Positions>();
  const selfPositions = new WeakMap<object, SourcePos>();
  const shadows = new WeakMap<object, Map<string, Shadowed[]>>();
  const problems: ManifestProblem[] = [];
  const documents: ManifestDocument[] = [];

  const nodesOf = (doc: Document.Parsed) => {
    let n = 0;
    visit(doc, () => {
      n++;
    });
    return n;
  };
  const docNodes = list.map(nodesOf);
  const totalBudget = TOTAL_EXPANSION_BUDGET + 2 * docNodes.reduce((a, b) => a + b, 0);
  // Nodes built by the documents kept so far; a document that fails gives its share back, so
  // a bomb in one document does not starve the documents after it.
  let built = 0;

  for (const [index, doc] of list.entries()) {
    const error = doc.errors[0];
    if (error) {
      problems.push({
        ...pos(error.pos[0]),
        message: `not valid YAML: ${firstLine(error.message)}`,
      });
      continue;
    }
    const expanding = new Set<Node>();
    const start = built;
    const budget = Math.min(
      totalBudget,
      start + ALIAS_EXPANSION_BUDGET + 2 * (docNodes[index] ?? 0),
    );

    const build = (node: unknown, depth: number): unknown => {
      if (node === null || node === undefined) return null;
      if (depth > MAX_DEPTH) {
        throw new ManifestError(`document ${index + 1}: nested deeper than ${MAX_DEPTH} levels`);
      }
      if (++built > budget) {
        throw new ManifestError(
          `document ${index + 1}: aliases expand to more than ${budget - start} nodes (a YAML alias bomb?); ` +
            'expand the anchors or split the file',
        );
      }
      if (isAlias(node)) {
        const target = node.resolve(doc);
        if (!target)
          throw new ManifestError(`document ${index + 1}: unknown alias *${node.source}`);
        if (expanding.has(target)) {
          throw new ManifestError(`document ${index + 1}: alias *${node.source} refers to itself`);
        }
        expanding.add(target);
        try {
          return build(target, depth + 1);
        } finally {
          expanding.delete(target);
        }
      }
      if (isScalar(node)) {
        const v = node.value;
        if (v instanceof Uint8Array) return textDecoder.decode(v);
        // go-yaml leaves a timestamp decoded into interface{} as its text.
        if (v instanceof Date) return node.source ?? v.toISOString();
        return v;
      }
      if (isSeq(node)) {
        const out: unknown[] = [];
        const positions: Positions = new Map();
        for (const item of node.items) {
          if (item && typeof item === 'object' && 'range' in item) {
            const r = (item as Node).range;
            if (r) positions.set(out.length, pos(r[0]));
          }
          out.push(build(item, depth + 1));
        }
        record(out, node, positions);
        return out;
      }
      if (isMap(node)) {
        const out: Record<string, unknown> = Object.create(null);
        const positions: Positions = new Map();
        const merges: unknown[] = [];
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const keyNode = pair.key;
          if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
            merges.push(pair.value);
            continue;
          }
          const key = keyText(build(keyNode, depth + 1));
          const valueNode = pair.value as Node | null;
          const at = valueNode?.range ?? (keyNode as Node | null)?.range;
          if (Object.hasOwn(out, key)) {
            const keyAt = (keyNode as Node | null)?.range;
            problems.push({
              ...pos(keyAt?.[0] ?? 0),
              message: `duplicate key ${JSON.stringify(key)} (kubectl rejects it; every value is judged)`,
            });
            let shadowMap = shadows.get(out);
            if (!shadowMap) {
              shadowMap = new Map();
              shadows.set(out, shadowMap);
            }
            shadowMap.set(key, [
              ...(shadowMap.get(key) ?? []),
              { value: out[key], pos: positions.get(key) },
            ]);
          }
          out[key] = build(valueNode, depth + 1);
          if (at) positions.set(key, pos(at[0]));
        }
        // Merged keys never override the map's own keys; earlier sources win over later ones.
        for (const m of merges) applyMerge(out, positions, m, depth);
        record(out, node, positions);
        return out;
      }
      return null;
    };

    const applyMerge = (
      out: Record<string, unknown>,
      positions: Positions,
      m: unknown,
      d: number,
    ) => {
      const value = build(m, d + 1);
      const sources = Array.isArray(value) ? value : [value];
      for (const src of sources) {
        if (src === null || typeof src !== 'object' || Array.isArray(src)) {
          const r = (m as Node | null)?.range;
          throw new ManifestError(
            `document ${index + 1}${r ? ` line ${pos(r[0]).line}` : ''}: a << merge takes a mapping or a list of mappings`,
          );
        }
        const srcPositions = valuePositions.get(src);
        for (const [k, v] of Object.entries(src)) {
          if (Object.hasOwn(out, k)) continue;
          out[k] = v;
          const p = srcPositions?.get(k);
          if (p) positions.set(k, p);
        }
      }
    };

    const record = (value: object, node: Node, positions: Positions) => {
      valuePositions.set(value, positions);
      if (node.range) selfPositions.set(value, pos(node.range[0]));
    };

    try {
      documents.push({ index, value: build(doc.contents, 0) });
    } catch (err) {
      // One document that cannot be built is reported; the others are still read.
      if (!(err instanceof ManifestError)) throw err;
      built = start;
      const r = doc.contents?.range;
      problems.push({ ...pos(r?.[0] ?? 0), message: err.message });
    }
  }

  return {
    documents,
    problems,
    source: {
      at: (container, key) => valuePositions.get(container)?.get(key),
      of: (value) => selfPositions.get(value),
      shadowed: (container, key) => shadows.get(container)?.get(key) ?? [],
    },
  };
}

/** Map keys become strings, as in the JSON kubectl sends. */
function keyText(key: unknown): string {
  if (typeof key === 'string') return key;
  if (key === null || typeof key !== 'object') return String(key);
  return JSON.stringify(key);
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
