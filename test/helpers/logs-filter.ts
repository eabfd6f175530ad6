/*
 * A tiny evaluator for exactly the subset of CloudWatch Logs JSON filter syntax the pattern
 * uses: `{ … }`, parentheses, `&&`, `||`, `$.a.b = "text"`, `$.a.b >= 200`, `$.a.b < 300`,
 * `$.a.b NOT EXISTS`, and `$.a.b = %regex%` / `$.a.b != %regex%` with CloudWatch's regex
 * subset (its characters, no parentheses, at most two per pattern). It refuses anything else (including `&&` and `||` mixed without
 * parentheses, whose precedence we never want to depend on), so the test fails if the pattern
 * drifts outside what is checked here.
 */
type Node =
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'eq'; selector: string[]; value: string }
  | { kind: 'num'; selector: string[]; op: '>=' | '<'; value: number }
  | { kind: 'notExists'; selector: string[] }
  | { kind: 'regex'; selector: string[]; negate: boolean; regex: RegExp };

/** What CloudWatch Logs accepts between `%…%` (FilterAndPatternSyntax, "Supported regular expressions"). */
const CLOUDWATCH_REGEX = /^[A-Za-z0-9:_#=@/;,\-^$?[\]{}|\\*+.]+$/;
const CLOUDWATCH_REGEX_PER_PATTERN = 2;

const TOKEN =
  /\s*(?:(\{|\}|\(|\)|&&|\|\||>=|<|!=|=)|(\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)|"([^"\\]*)"|(-?\d+)|(NOT EXISTS)|(%[^%\s]+%))/y;

function tokenize(pattern: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < pattern.length) {
    if (/^\s*$/.test(pattern.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(pattern);
    if (!match) throw new Error(`unsupported syntax at ${at}: ${pattern.slice(at, at + 20)}`);
    const [, punct, selector, text, num, notExists, regex] = match;
    if (punct) tokens.push(punct);
    else if (selector) tokens.push(selector);
    else if (text !== undefined) tokens.push(`"${text}"`);
    else if (num) tokens.push(num);
    else if (notExists) tokens.push('NOT EXISTS');
    else if (regex) tokens.push(regex);
  }
  return tokens;
}

export function parseLogsFilter(pattern: string): Node {
  const tokens = tokenize(pattern);
  const regexCount = tokens.filter((token) => token.startsWith('%')).length;
  if (regexCount > CLOUDWATCH_REGEX_PER_PATTERN)
    throw new Error(
      `${regexCount} regular expressions; CloudWatch Logs allows ${CLOUDWATCH_REGEX_PER_PATTERN}`,
    );
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (expected?: string) => {
    const token = tokens[pos++];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new Error(`expected ${expected ?? 'a token'} at token ${pos - 1}, got ${token}`);
    }
    return token;
  };
  const expression = (): Node => {
    const items = [primary()];
    let op: string | undefined;
    while (peek() === '&&' || peek() === '||') {
      const next = take();
      if (op && op !== next) throw new Error('&& and || mixed without parentheses');
      op = next;
      items.push(primary());
    }
    if (!op) return items[0] as Node;
    return { kind: op === '&&' ? 'and' : 'or', items };
  };
  const primary = (): Node => {
    if (peek() === '(') {
      take('(');
      const inner = expression();
      take(')');
      return inner;
    }
    const selectorToken = take();
    if (!selectorToken.startsWith('$.'))
      throw new Error(`expected a selector, got ${selectorToken}`);
    const selector = selectorToken.slice(2).split('.');
    const op = take();
    if (op === 'NOT EXISTS') return { kind: 'notExists', selector };
    const value = take();
    if (op === '=' && value.startsWith('"'))
      return { kind: 'eq', selector, value: value.slice(1, -1) };
    if ((op === '=' || op === '!=') && value.startsWith('%')) {
      const body = value.slice(1, -1);
      if (!CLOUDWATCH_REGEX.test(body))
        throw new Error(`regex outside CloudWatch's subset: ${body}`);
      return { kind: 'regex', selector, negate: op === '!=', regex: new RegExp(body) };
    }
    if ((op === '>=' || op === '<') && /^-?\d+$/.test(value)) {
      return { kind: 'num', selector, op, value: Number(value) };
    }
    throw new Error(`unsupported comparison ${selectorToken} ${op} ${value}`);
  };
  take('{');
  const root = expression();
  take('}');
  if (pos !== tokens.length) throw new Error(`trailing tokens: ${tokens.slice(pos).join(' ')}`);
  return root;
}

function lookup(event: unknown, selector: string[]): unknown {
  let current: unknown = event;
  for (const key of selector) {
    if (current === null || typeof current !== 'object' || !(key in current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export function evaluate(node: Node, event: unknown): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((item) => evaluate(item, event));
    case 'or':
      return node.items.some((item) => evaluate(item, event));
    case 'eq':
      return lookup(event, node.selector) === node.value;
    case 'num': {
      const value = lookup(event, node.selector);
      if (typeof value !== 'number') return false;
      return node.op === '>=' ? value >= node.value : value < node.value;
    }
    case 'notExists':
      return lookup(event, node.selector) === undefined;
    case 'regex': {
      // A missing or non-string field matches neither `=` nor `!=` here: the stricter
      // reading, so a test can only be wrong by dropping too much, never by keeping too much.
      const value = lookup(event, node.selector);
      if (typeof value !== 'string') return false;
      return node.regex.test(value) !== node.negate;
    }
  }
}

/** Whether CloudWatch Logs would pass `event` (one JSON log line, parsed) through `pattern`. */
export function matchesLogsFilter(pattern: string, event: unknown): boolean {
  return evaluate(parseLogsFilter(pattern), event);
}
