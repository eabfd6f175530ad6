/**
 * Where the vendored reference fixtures live. They are copies of the project's shared
 * fixtures (see test/fixtures/shared/README.md for each file's source and licence), kept in
 * the repository so a fresh clone's tests never read outside it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export const SHARED_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/shared');

/** A fixture's text; `name.gz` is read (and inflated) when only the compressed copy exists. */
export function readFixtureText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return gunzipSync(readFileSync(`${file}.gz`)).toString('utf8');
  }
}
