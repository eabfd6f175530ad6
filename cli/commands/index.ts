import type { Register } from '../main.ts';
import { registerAllowlist } from './allowlist.ts';
import { registerCheck } from './check.ts';
import { registerFindings } from './findings.ts';
import { registerForward } from './forward.ts';
import { registerInventory } from './inventory.ts';
import { registerLocal } from './local.ts';
import { registerRef } from './ref.ts';
import { registerReplay } from './replay.ts';

/** Every command group of the `regwatch` CLI, in help order. */
export const allCommands: readonly Register[] = [
  registerCheck,
  registerRef,
  registerReplay,
  registerFindings,
  registerInventory,
  registerAllowlist,
  registerLocal,
  registerForward,
];
