// The package's version, inlined by esbuild in the built CLI and read from package.json when
// the sources run.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
