/**
 * The allowlist cache (cli/allowlist-cache.ts) is a shortcut to what full validation gives,
 * never a way around it: an edited file, an entry made by another build, a damaged or foreign
 * entry all end in full validation. Run in-process through `loadAllowlistDocument` with a
 * validator id (the sources have none, so the CLI from a checkout never caches).
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  allowlistCache,
  MAX_CACHED_SOURCE,
  MAX_ENTRIES,
  writeCachedAllowlist,
} from '../../cli/allowlist-cache.ts';
import { loadAllowlistDocument } from '../../cli/allowlist-file.ts';
import type { CliIo } from '../../cli/context.ts';
import type { AllowlistDocument } from '../../lambdas/core/allowlist/schema.ts';
import { parseAllowlist } from '../../lambdas/core/allowlist/yaml.ts';
import { AllowlistError, UsageError } from '../../lambdas/core/errors.ts';

const ID = 'validator-a';
const NOW = new Date('2026-06-01T00:00:00Z');

// Refuses Docker Hub: a cache that answered for another document would let nginx through.
const STRICT = `version: 1
rules:
  - id: k8s
    registry: registry.k8s.io
`;
const PERMISSIVE: AllowlistDocument = {
  version: 1,
  rules: [{ id: 'anything', registry: '**', repository: '**' }],
};

let home: string;
let file: string;

function io(env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: path.join(home, 'cache') }): CliIo {
  return {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env,
    cwd: home,
  };
}

const cacheDir = () => path.join(home, 'cache', 'regwatch');
const entries = () => readdirSync(cacheDir()).filter((n) => n.startsWith('allowlist-'));
const entryPath = () => {
  const [name] = entries();
  if (name === undefined) throw new Error('no cache entry');
  return path.join(cacheDir(), name);
};

async function nginxAllowed(env?: NodeJS.ProcessEnv, id: string | null = ID): Promise<boolean> {
  const { allowlist } = await loadAllowlistDocument(file, io(env), id);
  return allowlist.decide('nginx:1.27', {}, NOW).allowed;
}

/** A well-formed entry for the file's current text that says `document` (e.g. from another user). */
function plantEntry(document: AllowlistDocument, id = ID): void {
  const cache = allowlistCache(io().env, id);
  if (cache === null) throw new Error('cache unexpectedly off');
  writeCachedAllowlist(cache, readFileSync(file, 'utf8'), document);
}

beforeEach(() => {
  home = mkdtempSync(path.join(tmpdir(), 'regwatch-cache-'));
  file = path.join(home, 'allowlist.yaml');
  writeFileSync(file, STRICT);
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

describe('allowlist cache', () => {
  it('stores the validated document and gives the same one back, in private files', async () => {
    // Act
    const first = await loadAllowlistDocument(file, io(), ID);
    const second = await loadAllowlistDocument(file, io(), ID);

    // Assess
    expect(entries()).toHaveLength(1);
    expect(statSync(entryPath()).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    expect(second.document).toEqual(first.document);
    expect(second.document).toEqual(parseAllowlist(STRICT));
    expect(second.allowlist.decide('registry.k8s.io/pause:3.9', {}, NOW).allowed).toBe(true);
    expect(second.allowlist.decide('nginx:1.27', {}, NOW).allowed).toBe(false);
  });

  it('gives back what validation gave for real allowlists (every field, through JSON)', async () => {
    // Prepare: the shipped example and one with every rule field and key kind.
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const everything = [
      'version: 1',
      'severities: {mutable-tag: low, unsigned-image: critical}',
      'rules:',
      '  - {id: deny-bad, effect: deny, registry: "**.evil.example", repository: "**"}',
      '  - id: pinned',
      '    image: "ghcr.io/org/**"',
      `    digests: ["sha256:${'a'.repeat(64)}"]`,
      '    clusters: ["prod-*", "!prod-legacy"]',
      '    namespaces: ["shop"]',
      '    severity: critical',
      '    expiresAt: "2027-01-01T00:00:00+02:00"',
      '    reason: "ünïcode reason \\u2028 and \\ud800"',
      '    owner: team',
      '    ticket: SEC-1',
      '  - id: tagged',
      '    registry: "*.dkr.ecr.eu-west-1.amazonaws.com"',
      '    repository: "team/*"',
      '    tags: ["v1.*", "stable"]',
      '    requireDigest: true',
      '    denyTags: ["latest", "*-rc*"]',
      '    requireSignature:',
      '      - cosign:',
      '          publicKeys:',
      ...pem
        .trim()
        .split('\n')
        .map((l, i) => (i === 0 ? `            - |\n              ${l}` : `              ${l}`)),
      '      - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/org/**"}',
      'pullThroughCache:',
      '  - {prefix: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/hub", upstream: docker.io}',
      '',
    ].join('\n');
    const texts = [
      readFileSync(path.resolve(import.meta.dirname, '../../examples/allowlist.yaml'), 'utf8'),
      everything,
    ];

    for (const text of texts) {
      writeFileSync(file, text);
      // Act
      const miss = await loadAllowlistDocument(file, io(), ID);
      const hit = await loadAllowlistDocument(file, io(), ID);

      // Assess: the same document, and the same meaning (the normalised content hash).
      expect(hit.document).toStrictEqual(parseAllowlist(text));
      expect(hit.document).toStrictEqual(miss.document);
      expect(hit.allowlist.version).toBe(miss.allowlist.version);
    }
    expect(entries()).toHaveLength(2);
  });

  it('is read: an entry for this exact text and build is what the file means', async () => {
    // Prepare: an entry this user wrote (the trust model): it is believed.
    plantEntry(PERMISSIVE);

    // Act + Assess
    expect(await nginxAllowed()).toBe(true);
  });

  it('an edited file is validated again: a broken edit is refused despite the old entry', async () => {
    // Prepare
    await loadAllowlistDocument(file, io(), ID);
    writeFileSync(file, STRICT.replace('registry: registry.k8s.io', 'registry: "reg*istry"'));

    // Act + Assess
    await expect(loadAllowlistDocument(file, io(), ID)).rejects.toThrow(AllowlistError);
  });

  it('one changed byte is another file (the whole text is compared, not a hash)', async () => {
    // Prepare: an entry saying "allow all" for STRICT; the file then gains one space.
    plantEntry(PERMISSIVE);
    writeFileSync(file, `${STRICT} `);

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it('an entry another build made is not used', async () => {
    // Prepare
    plantEntry(PERMISSIVE, 'validator-b');

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it('an entry whose document was changed after it was written fails its checksum', async () => {
    // Prepare
    await loadAllowlistDocument(file, io(), ID);
    const entry = JSON.parse(readFileSync(entryPath(), 'utf8')) as { document: string };
    entry.document = JSON.stringify(PERMISSIVE);
    writeFileSync(entryPath(), JSON.stringify(entry), { mode: 0o600 });

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it.each([
    ['truncated', (text: string) => text.slice(0, text.length >> 1)],
    ['empty', () => ''],
    ['not JSON', () => 'version: 1'],
    ['JSON null', () => 'null'],
    ['the wrong shape', () => '{"key":1,"source":[],"document":{}}'],
  ])('a %s entry falls back to validation', async (_name, damage) => {
    // Prepare
    plantEntry(PERMISSIVE);
    writeFileSync(entryPath(), damage(readFileSync(entryPath(), 'utf8')), { mode: 0o600 });

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it.each([
    ['a rule without registry', { version: 1, rules: [{ id: 'x' }] }],
    ['rules that are not a list', { version: 1, rules: 'all' }],
    ['an array', [1, 2]],
  ])('an entry holding %s (does not compile) falls back to validation', async (_n, bad) => {
    // Prepare
    plantEntry(bad as unknown as AllowlistDocument);

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it('an entry others may read or write is not used', async () => {
    // Prepare
    plantEntry(PERMISSIVE);
    chmodSync(entryPath(), 0o644);

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it('an entry that is a symbolic link is not followed', async () => {
    // Prepare: a valid permissive entry elsewhere, linked in under the looked-up name.
    plantEntry(PERMISSIVE);
    const name = entries()[0] ?? '';
    const elsewhere = path.join(home, 'elsewhere.json');
    writeFileSync(elsewhere, readFileSync(entryPath()), { mode: 0o600 });
    rmSync(entryPath());
    symlinkSync(elsewhere, path.join(cacheDir(), name));

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
  });

  it('a cache directory others can write to is neither read nor written', async () => {
    // Prepare
    plantEntry(PERMISSIVE);
    chmodSync(cacheDir(), 0o777);

    // Act + Assess
    expect(await nginxAllowed()).toBe(false);
    rmSync(entryPath());
    await loadAllowlistDocument(file, io(), ID);
    expect(entries()).toEqual([]);
  });

  it('a file that is not valid is never cached', async () => {
    // Prepare
    writeFileSync(file, 'version: 1\nrules:\n  - id: x\n');

    // Act + Assess
    await expect(loadAllowlistDocument(file, io(), ID)).rejects.toThrow(AllowlistError);
    await expect(loadAllowlistDocument(file, io(), ID)).rejects.toThrow(AllowlistError);
    expect(existsSync(path.join(home, 'cache'))).toBe(false);
  });

  it('an allowlist larger than the limit is validated every time', async () => {
    // Prepare
    writeFileSync(file, `${STRICT}# ${'x'.repeat(MAX_CACHED_SOURCE)}\n`);

    // Act
    await loadAllowlistDocument(file, io(), ID);

    // Assess
    expect(() => readdirSync(cacheDir())).toThrow();
  });

  it(`keeps the newest ${MAX_ENTRIES} entries`, async () => {
    // Act
    for (let i = 0; i < MAX_ENTRIES + 3; i++) {
      writeFileSync(file, `${STRICT}# edit ${i}\n`);
      await loadAllowlistDocument(file, io(), ID);
    }

    // Assess
    expect(entries()).toHaveLength(MAX_ENTRIES);
  });
});

describe('when the cache is used', () => {
  const written = () => {
    try {
      return entries().length;
    } catch {
      return 0;
    }
  };

  it.each([
    ['no validator id (the sources)', {}, null],
    ['REGWATCH_CACHE=off', { REGWATCH_CACHE: 'off' }, ID],
    ['CI', { CI: 'true' }, ID],
  ])('not with %s', async (_name, extra, id) => {
    // Act
    await loadAllowlistDocument(
      file,
      io({ XDG_CACHE_HOME: path.join(home, 'cache'), ...extra }),
      id,
    );

    // Assess
    expect(written()).toBe(0);
  });

  it('in CI when REGWATCH_CACHE=on says so', async () => {
    // Act
    await loadAllowlistDocument(
      file,
      io({ XDG_CACHE_HOME: path.join(home, 'cache'), CI: 'true', REGWATCH_CACHE: 'on' }),
      ID,
    );

    // Assess
    expect(written()).toBe(1);
  });

  it('under $HOME/.cache when XDG_CACHE_HOME is unset or relative; nowhere without either', async () => {
    // Act
    await loadAllowlistDocument(file, io({ HOME: home, XDG_CACHE_HOME: 'relative/cache' }), ID);

    // Assess
    expect(readdirSync(path.join(home, '.cache', 'regwatch'))).toHaveLength(1);
    expect(allowlistCache({}, ID)).toBeNull();
    expect(allowlistCache({ HOME: 'relative' }, ID)).toBeNull();
  });

  it('REGWATCH_CACHE other than on or off is a usage error', async () => {
    await expect(loadAllowlistDocument(file, io({ REGWATCH_CACHE: 'yes' }), ID)).rejects.toThrow(
      UsageError,
    );
  });

  it('an unwritable cache location costs nothing but the cache', async () => {
    // Prepare: the cache's parent is a file, so the directory cannot be made.
    writeFileSync(path.join(home, 'not-a-dir'), '');

    // Act
    const { allowlist } = await loadAllowlistDocument(
      file,
      io({ XDG_CACHE_HOME: path.join(home, 'not-a-dir') }),
      ID,
    );

    // Assess
    expect(allowlist.decide('registry.k8s.io/pause:3.9', {}, NOW).allowed).toBe(true);
  });
});
