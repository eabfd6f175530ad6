/**
 * The allowlist side of Notation: `notation` entries (trust store, trust-policy identities,
 * store type) and `awsSigner.trustedRoots`, refused with the field named when they are wrong;
 * the trust-policy identity grammar itself; older allowlists keep validating unchanged.
 */
import { describe, expect, it } from 'vitest';
import { validateAllowlist } from '../../../lambdas/core/allowlist/index.ts';
import { AllowlistError } from '../../../lambdas/core/errors.ts';
import {
  checkProtectedHeader,
  identityMatches,
  parseRfc3339,
  parseTrustedIdentity,
} from '../../../lambdas/core/signatures/notation.ts';
import { certPem } from '../../helpers/notation.ts';

const ROOT = certPem('root');
const PROFILE = 'arn:aws:signer:eu-central-1:123456789012:/signing-profiles/release';

const doc = (entry: object) => ({
  version: 1,
  rules: [{ id: 'r', registry: 'ghcr.io', requireSignature: [entry] }],
});

function issues(value: unknown): string[] {
  try {
    validateAllowlist(value);
  } catch (error) {
    expect(error).toBeInstanceOf(AllowlistError);
    return (error as AllowlistError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the allowlist to be refused');
}

describe('notation entries in the allowlist', () => {
  it('accepts a trust store with identities, "*", a signingAuthority store, awsSigner roots', () => {
    const valid = validateAllowlist({
      version: 1,
      rules: [
        {
          id: 'r',
          registry: 'ghcr.io',
          requireSignature: [
            {
              notation: {
                trustedCertificates: [ROOT],
                trustedIdentities: [
                  'x509.subject: C=US, ST=WA, O=regwatch-test, CN=builder',
                  'x509.subject: C=US, S=WA, O=regwatch-test, CN=releaser',
                ],
              },
            },
            {
              notation: {
                trustedCertificates: [`${ROOT}\n${certPem('other-root')}`],
                trustedIdentities: ['*'],
                trustStoreType: 'signingAuthority',
              },
            },
            { awsSigner: { profileArns: [PROFILE], trustedRoots: [certPem('signer-root')] } },
            { awsSigner: { profileArns: [PROFILE] } },
          ],
        },
      ],
    });
    expect(valid.rules[0]?.requireSignature).toHaveLength(4);
  });

  it('refuses bad PEM, bad or overlapping identities, "*" among others, an unknown store type', () => {
    const at = (i: number) => `rules[0] (id "bad").requireSignature[${i}]`;
    const found = issues({
      version: 1,
      rules: [
        {
          id: 'bad',
          registry: 'ghcr.io',
          requireSignature: [
            { notation: { trustedCertificates: ['not a cert'], trustedIdentities: ['*'] } },
            {
              notation: {
                trustedCertificates: [ROOT],
                trustedIdentities: ['x509.subject: C=US, O=acme'],
              },
            },
            { notation: { trustedCertificates: [ROOT], trustedIdentities: ['CN=builder'] } },
            {
              notation: {
                trustedCertificates: [ROOT],
                trustedIdentities: [
                  'x509.subject: C=US, ST=WA, O=acme, OU=a',
                  'x509.subject: C=US, ST=WA, O=acme',
                ],
              },
            },
            {
              notation: {
                trustedCertificates: [ROOT],
                trustedIdentities: ['*', 'x509.subject: C=US, ST=WA, O=acme'],
              },
            },
            {
              notation: {
                trustedCertificates: [ROOT],
                trustedIdentities: ['*'],
                trustStoreType: 'tsa',
              },
            },
            { notation: { trustedCertificates: [], trustedIdentities: ['*'] } },
            {
              awsSigner: {
                profileArns: [PROFILE],
                trustedRoots: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'],
              },
            },
          ],
        },
      ],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${at(0)}.notation.trustedCertificates[0]: must be PEM`),
        expect.stringContaining(
          `${at(1)}.notation.trustedIdentities[0]: must name at least C, ST (or S) and O; ST missing`,
        ),
        expect.stringContaining(
          `${at(2)}.notation.trustedIdentities[0]: must be "*" or start with "x509.subject:"`,
        ),
        expect.stringContaining(`${at(3)}.notation.trustedIdentities[1]: overlaps identity #1`),
        expect.stringContaining(
          `${at(4)}.notation.trustedIdentities[0]: "*" must be the only identity`,
        ),
        expect.stringContaining(`${at(5)}.notation.trustStoreType`),
        expect.stringContaining(
          `${at(6)}.notation.trustedCertificates: must list at least one PEM`,
        ),
        expect.stringContaining(
          `${at(7)}.awsSigner.trustedRoots[0]: is not a readable certificate`,
        ),
      ]),
    );
  });

  it('an entry is exactly one kind: notation beside awsSigner is refused', () => {
    expect(
      issues(
        doc({
          awsSigner: { profileArns: [PROFILE] },
          notation: { trustedCertificates: [ROOT], trustedIdentities: ['*'] },
        }),
      ),
    ).toEqual([
      expect.stringContaining('each entry is exactly one of cosign, keyless, awsSigner, notation'),
    ]);
  });
});

describe('trust-policy identities', () => {
  const subject = new Map([
    ['C', 'US'],
    ['ST', 'WA'],
    ['L', 'Seattle'],
    ['O', 'acme, inc.'],
    ['CN', ' builder'],
  ]);
  const parse = (text: string) => {
    const parsed = parseTrustedIdentity(text);
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.identity;
  };

  it('matches a subset of the subject exactly, with RFC 4514 escapes', () => {
    expect(identityMatches(parse('x509.subject: C=US, ST=WA, O=acme\\, inc.'), subject)).toBe(true);
    expect(
      identityMatches(parse('x509.subject: C=US,S=WA,O=acme\\, inc.,CN=\\ builder'), subject),
    ).toBe(true);
    expect(
      identityMatches(parse('x509.subject: C=US, ST=WA, O=acme\\, inc., CN=builder'), subject),
    ).toBe(false);
    expect(identityMatches(parse('x509.subject: C=US, ST=WA, O=acme'), subject)).toBe(false);
    expect(identityMatches(parse('x509.subject: C=US, ST=WA, O=acme\\, inc., OU=x'), subject)).toBe(
      false,
    );
    expect(identityMatches(parse('*'), subject)).toBe(true);
  });

  it('refuses duplicates, multi-valued RDNs, #hex values and bad escapes', () => {
    for (const bad of [
      'x509.subject: C=US, ST=WA, O=a, O=b',
      'x509.subject: C=US+ST=WA, O=a',
      'x509.subject: C=US, ST=WA, O=#0403616263',
      'x509.subject: C=US, ST=WA, O=a\\q',
      'x509.subject: C=US, ST=WA, =a',
    ]) {
      expect(parseTrustedIdentity(bad).ok, bad).toBe(false);
    }
  });
});

describe('protected header rules', () => {
  const base = {
    alg: 'ES256',
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    crit: ['io.cncf.notary.signingScheme'],
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': '2026-01-01T00:00:00Z',
  };
  it('accepts the minimal notary.x509 header and names each breach', () => {
    expect(checkProtectedHeader(base)).toMatchObject({
      ok: true,
      header: { scheme: 'notary.x509' },
    });
    const error = (h: object) => {
      const r = checkProtectedHeader({ ...base, ...h });
      return r.ok ? 'ok' : r.error;
    };
    expect(error({ alg: 'HS256' })).toContain('alg "HS256"');
    expect(error({ crit: ['io.cncf.notary.signingScheme', 'alg'] })).toBe(
      'crit lists the registered header alg',
    );
    expect(
      error({ crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.signingScheme'] }),
    ).toContain('twice');
    expect(error({ crit: ['io.cncf.notary.signingScheme', 'x'] })).toContain(
      'which the header does not have',
    );
    expect(error({ 'io.cncf.notary.signingTime': 'yesterday' })).toContain('not RFC 3339');
    expect(error({ 'io.cncf.notary.authenticSigningTime': '2026-01-01T00:00:00Z' })).toContain(
      'not valid with notary.x509',
    );
    expect(
      error({
        crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'],
        'io.cncf.notary.expiry': '2025-01-01T00:00:00Z',
      }),
    ).toBe('the expiry is not after the signing time');
    expect(
      error({
        'io.cncf.notary.signingScheme': 'notary.x509.signingAuthority',
        'io.cncf.notary.signingTime': undefined,
        'io.cncf.notary.authenticSigningTime': '2026-01-01T00:00:00Z',
      }),
    ).toBe('crit does not list io.cncf.notary.authenticSigningTime');
  });

  it('reads RFC 3339 times with offsets and refuses other shapes', () => {
    expect(parseRfc3339('2023-03-14T16:10:02+08:00')?.toISOString()).toBe(
      '2023-03-14T08:10:02.000Z',
    );
    expect(parseRfc3339('2023-03-14 16:10:02Z')).toBeNull();
    expect(parseRfc3339(1700000000)).toBeNull();
  });
});
