/** The cluster-name rule (`cluster.ts`) as a zod schema, for the pod event. */
import * as z from 'zod';
import { CLUSTER_NAME, CLUSTER_NAME_RULE } from './cluster.ts';

export const clusterNameSchema = z
  .string()
  .regex(CLUSTER_NAME, { message: `invalid cluster name: ${CLUSTER_NAME_RULE}` });
