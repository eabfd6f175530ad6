import { type CompiledAllowlist, compileValidated } from './compile.ts';
import { type AllowlistDocument, validateAllowlist } from './schema.ts';

/** Validates (again: nothing is half-loaded) and compiles a document. */
export function compileAllowlist(doc: AllowlistDocument): CompiledAllowlist {
  return compileValidated(validateAllowlist(doc));
}
