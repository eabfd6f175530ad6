/**
 * Messages on the reconcile queue (issue 11): a full pass fanned out by cluster. `cluster`
 * re-judges one cluster's entries (from `start`, a continuation key, when a previous message
 * ran out of time); `clusters` goes on listing the clusters to fan out to. Only regwatch's
 * own functions send them, but they are parsed as hostile input all the same: bounded,
 * strict, and a continuation key must stay inside the message's cluster.
 */
import * as z from 'zod';

const MAX_KEY_PART = 4096;

/** A DynamoDB key as the document client returns it: a few string attributes. */
const startKey = z
  .record(z.string().min(1).max(64), z.string().max(MAX_KEY_PART))
  .refine((key) => Object.keys(key).length > 0 && Object.keys(key).length <= 6, {
    message: 'a continuation key has 1 to 6 attributes',
  });

const cause = z.string().min(1).max(512);

export const reconcileMessageSchema = z.discriminatedUnion('kind', [
  z
    .strictObject({
      kind: z.literal('cluster'),
      cluster: z.string().min(1).max(512),
      cause,
      start: startKey.optional(),
    })
    .refine((m) => m.start === undefined || m.start.cluster === m.cluster, {
      message: 'the continuation key belongs to another cluster',
      path: ['start'],
    }),
  z.strictObject({ kind: z.literal('clusters'), cause, start: startKey.optional() }),
]);
export type ReconcileMessage = z.infer<typeof reconcileMessageSchema>;
export type ClusterMessage = Extract<ReconcileMessage, { kind: 'cluster' }>;
export type ClustersMessage = Extract<ReconcileMessage, { kind: 'clusters' }>;
