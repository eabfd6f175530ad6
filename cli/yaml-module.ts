/**
 * `yaml`, loaded on first use. One loader for every command because of how the module arrives:
 * run from the sources, `import('yaml')` gives its ESM named exports; from the bundle (dist/),
 * esbuild hands yaml's CommonJS build over as a default export only, so destructuring the
 * namespace gave `undefined` and `-o yaml` crashed in the installed package.
 */
import type * as Yaml from 'yaml';

export type YamlModule = typeof Yaml;

let loaded: Promise<YamlModule> | undefined;

export function loadYaml(): Promise<YamlModule> {
  loaded ??= import('yaml').then((ns) => {
    const m = ns as Partial<YamlModule> & { default?: YamlModule };
    const mod = typeof m.stringify === 'function' ? (m as YamlModule) : m.default;
    if (
      !mod ||
      typeof mod.stringify !== 'function' ||
      typeof mod.parseAllDocuments !== 'function'
    ) {
      throw new Error('the yaml module could not be loaded (no stringify/parseAllDocuments)');
    }
    return mod;
  });
  return loaded;
}
