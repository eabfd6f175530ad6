/**
 * A small reader for the plain block YAML allowlists are written in, so that the CLI's first
 * run of a file need not load and run the YAML library (its import and a cold-JIT parse are
 * most of that run's cost). It returns exactly the value `parseDocument(text, { uniqueKeys:
 * true }).toJS()` gives, or `undefined` for anything it does not fully understand: the caller
 * then uses the library, which also reports every syntax error with its position. So it never
 * returns a value for text the library would refuse, and never reports an error itself.
 *
 * Understood: block mappings and sequences (a sequence may sit at its key's indentation),
 * `- key: value` items, comments, plain scalars of the YAML 1.2 core schema that are strings,
 * `null`/`~`, `true`/`false` or small decimal integers, single- and double-quoted scalars on
 * one line (double-quoted without escapes), and one-line flow sequences of such scalars.
 * CRLF line ends are read as LF. Everything else (anchors, aliases, tags, directives, several
 * documents, block scalars, flow mappings, multi-line scalars, tabs, a CR alone, other number
 * forms, unusual keys) is left to the library. The differential test
 * (test/core/allowlist/yaml-subset.test.ts) holds it to that.
 */

/** Nesting deeper than this is left to the library (allowlists nest four levels). */
const MAX_DEPTH = 32;
/** The library refuses implicit keys longer than 1024 characters; stay well inside. */
const MAX_KEY = 512;
/**
 * Text outside this set is left to the library: line feed, printable ASCII, and non-ASCII
 * BMP characters except U+2028/U+2029, the BOM and surrogates.
 */
const UNSUPPORTED_CHAR = /[^\n\x20-\x7E\u00A0-\u2027\u202A-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD]/;

const NULL = /^(?:~|[Nn]ull|NULL)$/;
const TRUE = /^(?:[Tt]rue|TRUE)$/;
const FALSE = /^(?:[Ff]alse|FALSE)$/;
const SMALL_INT = /^(?:0|[1-9][0-9]{0,14})$/;
/** Any other number form of the core schema (octal, hex, signed, float, inf, nan). */
const OTHER_NUMBER =
  /^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/;
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*/;
/** What may follow a scalar on its line: nothing, or a comment after a space. */
const LINE_END = /^(?: +#.*| *)$/;

interface Line {
  indent: number;
  /** The line after its indentation: never empty, never a comment. */
  text: string;
}

/** Thrown inside the reader only: "not in the subset", turned into `undefined`. */
class Unsupported extends Error {}
const unsupported = (): never => {
  throw new Unsupported();
};

/** The value the YAML library would give for `text`, or undefined (then ask the library). */
export function parseYamlSubset(source: string): unknown {
  // CRLF line ends are line ends to YAML, and no scalar here spans a line: read as LF.
  const text = source.includes('\r') ? source.replaceAll('\r\n', '\n') : source;
  if (UNSUPPORTED_CHAR.test(text)) return undefined;
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    const rest = raw.slice(indent);
    if (rest === '' || rest.startsWith('#')) continue;
    // Document markers and directives.
    if (indent === 0 && (rest.startsWith('---') || rest.startsWith('...') || rest[0] === '%')) {
      return undefined;
    }
    lines.push({ indent, text: rest });
  }
  if (lines.length === 0 || lines[0]?.indent !== 0) return undefined;
  try {
    const reader = new Reader(lines);
    const first = lines[0];
    if (first === undefined || entryKey(first.text) === null) return undefined;
    const value = reader.mapping(0, 0);
    return reader.done() ? value : undefined;
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

class Reader {
  private pos = 0;
  private readonly lines: Line[];

  constructor(lines: Line[]) {
    this.lines = lines;
  }

  /**
   * Whether every line was read. Each loop reads only lines at its own indentation, so a line
   * indented where nothing expects it (a continuation, a level between two) stops every loop
   * above it and is left unread: then the text is not in the subset.
   */
  done(): boolean {
    return this.pos === this.lines.length;
  }

  private peek(): Line | undefined {
    return this.lines[this.pos];
  }

  /** A block node starting at the current line, indented exactly `indent`. */
  private node(indent: number, depth: number): unknown {
    const line = this.peek();
    if (line === undefined || line.indent !== indent || depth > MAX_DEPTH) return unsupported();
    if (isSequenceItem(line.text)) return this.sequence(indent, depth);
    if (entryKey(line.text) !== null) return this.mapping(indent, depth);
    return unsupported();
  }

  /** The value after `key:` with nothing inline: a deeper block, a sequence at the key's indentation, or null. */
  private blockValue(indent: number, depth: number): unknown {
    const next = this.peek();
    if (next !== undefined && next.indent > indent) return this.node(next.indent, depth + 1);
    if (next !== undefined && next.indent === indent && isSequenceItem(next.text)) {
      return this.sequence(indent, depth + 1);
    }
    return null;
  }

  mapping(indent: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    for (let line = this.peek(); line?.indent === indent; line = this.peek()) {
      const entry = entryKey(line.text) ?? unsupported();
      if (seen.has(entry.key)) unsupported();
      seen.add(entry.key);
      this.pos++;
      let value: unknown;
      if (entry.rest === null) {
        value = this.blockValue(indent, depth);
      } else {
        value = inlineValue(entry.rest);
      }
      out[entry.key] = value;
    }
    return out;
  }

  private sequence(indent: number, depth: number): unknown[] {
    const out: unknown[] = [];
    for (let line = this.peek(); line?.indent === indent; line = this.peek()) {
      // A mapping entry at the sequence's indentation ends a sequence that sits at its key's.
      if (!isSequenceItem(line.text)) break;
      const after = line.text.slice(1);
      let spaces = 0;
      while (after.charCodeAt(spaces) === 32) spaces++;
      const content = after.slice(spaces);
      if (content === '' || content.startsWith('#')) {
        this.pos++;
        const next = this.peek();
        out.push(
          next !== undefined && next.indent > indent ? this.node(next.indent, depth + 1) : null,
        );
      } else if (isSequenceItem(content)) {
        unsupported();
      } else if (entryKey(content) !== null) {
        // `- key: value`: a mapping whose lines are indented to its first key.
        const inner = indent + 1 + spaces;
        this.lines[this.pos] = { indent: inner, text: content };
        out.push(this.mapping(inner, depth + 1));
      } else {
        this.pos++;
        out.push(inlineValue(content));
      }
    }
    return out;
  }
}

/** Trims spaces only: YAML's whitespace here; `trim()` would also take U+00A0 and friends. */
function trimSpaces(text: string): string {
  let start = 0;
  let end = text.length;
  while (text.charCodeAt(start) === 32) start++;
  while (end > start && text.charCodeAt(end - 1) === 32) end--;
  return text.slice(start, end);
}

function isSequenceItem(text: string): boolean {
  return text[0] === '-' && (text.length === 1 || text[1] === ' ');
}

/** `key:` or `key: rest` (rest null when nothing but a comment follows), else null. */
function entryKey(text: string): { key: string; rest: string | null } | null {
  let key: string;
  let end: number;
  const first = text[0];
  if (first === '"' || first === "'") {
    const quoted = quotedScalar(text);
    if (quoted === null) return null;
    key = quoted.value;
    end = quoted.end;
  } else {
    const match = PLAIN_KEY.exec(text);
    if (match === null) return null;
    key = match[0];
    end = key.length;
    if (NULL.test(key) || TRUE.test(key) || FALSE.test(key)) return null;
  }
  if (text[end] !== ':' || (end + 1 < text.length && text[end + 1] !== ' ')) return null;
  if (end > MAX_KEY || key === '__proto__') unsupported();
  const rest = trimSpaces(text.slice(end + 1));
  return { key, rest: rest === '' || rest.startsWith('#') ? null : rest };
}

/**
 * A quoted scalar starting at `start` in `text` and the offset after it, or null if it does
 * not close on the line. Offsets, not slices: a long flow sequence stays linear.
 */
function quotedScalar(text: string, start = 0): { value: string; end: number } | null {
  if (text[start] === '"') {
    const close = text.indexOf('"', start + 1);
    if (close < 0) return null;
    const value = text.slice(start + 1, close);
    // Escapes are left to the library.
    if (value.includes('\\')) unsupported();
    return { value, end: close + 1 };
  }
  let value = '';
  let i = start + 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0) return null;
    value += text.slice(i, close);
    if (text[close + 1] !== "'") return { value, end: close + 1 };
    value += "'";
    i = close + 2;
  }
}

/** A scalar or a one-line flow sequence after `key: ` or `- `. */
function inlineValue(text: string): unknown {
  const first = text[0];
  if (first === '"' || first === "'") {
    const quoted = quotedScalar(text) ?? unsupported();
    if (!LINE_END.test(text.slice(quoted.end))) unsupported();
    return quoted.value;
  }
  if (first === '[') return flowSequence(text);
  // Block context: a comment starts at ' #'; '#' elsewhere, ': ' or a final ':' are left.
  const comment = text.indexOf(' #');
  const plain = trimSpaces(comment < 0 ? text : text.slice(0, comment));
  if (plain.includes('#') || plain.includes(': ') || plain.endsWith(':')) unsupported();
  return plainScalar(plain);
}

function flowSequence(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 1;
  const skipSpaces = () => {
    while (text.charCodeAt(i) === 32) i++;
  };
  skipSpaces();
  if (text[i] === ']') {
    i++;
  } else {
    for (;;) {
      skipSpaces();
      const first = text[i];
      if (first === '"' || first === "'") {
        const quoted = quotedScalar(text, i) ?? unsupported();
        out.push(quoted.value);
        i = quoted.end;
      } else {
        let end = i;
        while (end < text.length && !',]'.includes(text[end] ?? '')) end++;
        const plain = trimSpaces(text.slice(i, end));
        if (plain === '' || /[[\]{}#:]/.test(plain)) unsupported();
        out.push(plainScalar(plain));
        i = end;
      }
      skipSpaces();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        break;
      }
      unsupported();
    }
  }
  if (!LINE_END.test(text.slice(i))) unsupported();
  return out;
}

/** A plain scalar's value under the core schema; number forms other than small integers are left. */
function plainScalar(text: string): unknown {
  const first = text[0] ?? '';
  // Indicators that start something other than a plain scalar (or one the library may read so).
  if ('&*!|>%@`{}[],?:#\'"'.includes(first)) unsupported();
  if (first === '-' && (text.length === 1 || text[1] === ' ' || text.startsWith('---'))) {
    unsupported();
  }
  if (NULL.test(text)) return null;
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  if (SMALL_INT.test(text)) return Number(text);
  if (OTHER_NUMBER.test(text)) unsupported();
  return text;
}
