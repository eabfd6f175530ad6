/**
 * In-toto statements as image signatures: cosign v3 signs a DSSE envelope whose payload is a
 * statement of predicate `https://sigstore.dev/cosign/sign/v1` naming the image digest as its
 * subject. Pure: the envelope's signature is checked by the adapters.
 */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const STATEMENT_TYPES = ['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1'];

/** Whether an in-toto statement (DSSE payload) is a cosign signature of `digest`. */
export function statementSigns(payload: Uint8Array, digest: string): string | null {
  let statement: { _type?: unknown; predicateType?: unknown; subject?: unknown };
  try {
    statement = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return 'the DSSE payload is not JSON';
  }
  if (!STATEMENT_TYPES.includes(String(statement._type)))
    return 'the DSSE payload is not an in-toto statement';
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE) {
    return `the statement is a ${JSON.stringify(statement.predicateType)} attestation, not a cosign signature`;
  }
  const hex = digest.slice('sha256:'.length);
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  const names = subjects.some(
    (s) => (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256 === hex,
  );
  return names ? null : `the statement's subjects do not include ${digest}`;
}
