import type { Register } from '../main.ts';

/**
 * Every command group of the `regwatch` CLI, in help order. Each module is loaded only when
 * its command runs (or for `--help` / completion), so `regwatch check` never loads the AWS SDK,
 * the Kubernetes client or dynalite. `description` is what the top-level help shows without
 * loading the module; a test keeps it equal to the module's own.
 */
export interface CommandEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Register>;
}

export const allCommands: readonly CommandEntry[] = [
  {
    name: 'check',
    description:
      'judge images (arguments, stdin lines, or Kubernetes manifests) against an allowlist',
    load: async () => (await import('./check.ts')).registerCheck,
  },
  {
    name: 'ref',
    description: 'parse and normalise image references (one per argument, or per line on stdin)',
    load: async () => (await import('./ref.ts')).registerRef,
  },
  {
    name: 'replay',
    description:
      'evaluate audit logs offline: JSON lines of Events, EventList documents, CloudWatch Logs payloads or exports, .gz',
    load: async () => (await import('./replay.ts')).registerReplay,
  },
  {
    name: 'findings',
    description: 'query and triage findings',
    load: async () => (await import('./findings.ts')).registerFindings,
  },
  {
    name: 'inventory',
    description: 'what runs where, judged by the allowlist in force now',
    load: async () => (await import('./inventory.ts')).registerInventory,
  },
  {
    name: 'allowlist',
    description: 'manage the stored allowlist',
    load: async () => (await import('./allowlist.ts')).registerAllowlist,
  },
  {
    name: 'verify',
    description:
      'verify image signatures as the allowlist requires (cosign, keyless, AWS Signer, Notation)',
    load: async () => (await import('./verify.ts')).registerVerify,
  },
  {
    name: 'test',
    description: 'run allowlist tests (*.regwatch-test.yaml): expected result per image',
    load: async () => (await import('./test.ts')).registerTest,
  },
  {
    name: 'local',
    description:
      'Run regwatch on this machine: embedded DynamoDB, loopback HTTP ingest, console/Slack alerts',
    load: async () => (await import('./local.ts')).registerLocal,
  },
  {
    name: 'forward',
    description:
      'Stream pod events from a cluster to regwatch (the in-cluster forwarder, run locally)',
    load: async () => (await import('./forward.ts')).registerForward,
  },
  {
    name: 'completion',
    description: 'print a shell completion script (bash, zsh or fish)',
    load: async () => (await import('./completion.ts')).registerCompletion,
  },
];
