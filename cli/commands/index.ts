import type { Register } from '../main.ts';
import { registerCheck } from './check.ts';
import { registerRef } from './ref.ts';
import { registerReplay } from './replay.ts';

/** Every command group of the `regwatch` CLI, in help order. */
export const allCommands: readonly Register[] = [registerCheck, registerRef, registerReplay];
