#!/usr/bin/env node
// The `regwatch` command. An installed package runs the built bundle (dist/); in a checkout,
// where the TypeScript sources sit beside this file, Node 24 runs them directly.
import { existsSync } from 'node:fs';

const sources = new URL('./regwatch.ts', import.meta.url);
await import(existsSync(sources) ? sources.href : '../dist/regwatch.js');
