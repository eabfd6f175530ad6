/**
 * An embedded DynamoDB (dynalite) for local mode: listens on 127.0.0.1 only, keeps its data in
 * memory or, with `path`, in a LevelDB folder that survives restarts. Production code (used by
 * `regwatch local`), unlike the test helper it resembles.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type DataLock, lockDataFolder } from './data-lock.ts';
import { documentClient } from './index.ts';

// dynalite ships no type declarations: load it through require with the signature we use.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}) => Server;

export interface EmbeddedDynamoOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number | undefined;
  /** LevelDB folder for persistent data; in memory when absent. */
  path?: string | undefined;
}

export interface EmbeddedDynamo {
  /** `http://127.0.0.1:<port>`: what `--dynamodb-endpoint` takes. */
  endpoint: string;
  port: number;
  /** Low-level client (table management). */
  client: DynamoDBClient;
  /** Document client, what the stores take. */
  doc: DynamoDBDocumentClient;
  /** Closes the clients and the server (and the LevelDB folder). Idempotent. */
  stop(): Promise<void>;
}

/** Credentials and region dynalite accepts; it checks neither. */
export const LOCAL_AWS = {
  region: 'local',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** A DynamoDB client for a local endpoint (dynalite or DynamoDB Local). */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, ...LOCAL_AWS, maxAttempts: 3 });
}

export async function startEmbeddedDynamo(
  options: EmbeddedDynamoOptions = {},
): Promise<EmbeddedDynamo> {
  let lock: DataLock | undefined;
  if (options.path) {
    mkdirSync(options.path, { recursive: true });
    lock = lockDataFolder(options.path);
  }
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoClient(endpoint);
  const doc = documentClient(client);
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    port,
    client,
    doc,
    stop() {
      stopped ??= (async () => {
        client.destroy();
        const closed = new Promise<void>((resolve, reject) =>
          server.close((error) => (error ? reject(error) : resolve())),
        );
        // Keep-alive sockets of other clients (the CLI) would hold the close open.
        server.closeIdleConnections();
        try {
          await closed;
        } finally {
          lock?.release();
        }
      })();
      return stopped;
    },
  };
}
