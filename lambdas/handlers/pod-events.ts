/**
 * `pod-events`: the forwarder's pod events → findings, from `PodEventsQueue` with partial
 * batch responses. The edge (what fails a record, idempotency) is `edges/pod-events.ts`.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { emptyReport } from '../services/ingest.ts';
import { sqsBatchHandler } from './commons/batch.ts';
import { loadConfig } from './commons/config.ts';
import { withPowertools } from './commons/middy.ts';
import { powertoolsTelemetry } from './commons/powertools.ts';
import { FUNCTION_CONFIG } from './compose/config.ts';
import { buildIngestDeps } from './compose/ingest.ts';
import { podEventsEdge } from './edges/pod-events.ts';

export { POD_EVENT_DETAIL_TYPE, POD_EVENT_SOURCE, podEventOf } from './edges/pod-events.ts';

// Read once per cold start: bad configuration fails here, naming every bad variable.
const wiring = buildIngestDeps(loadConfig(FUNCTION_CONFIG['pod-events']), {
  telemetry: powertoolsTelemetry,
});
const edge = podEventsEdge(wiring.deps, powertoolsTelemetry);

export const handler = withPowertools(async (event: SQSEvent, context: Context) => {
  const total = emptyReport();
  const batch = sqsBatchHandler((record) => edge.record(record, total));
  try {
    return await batch(event, context);
  } finally {
    edge.batchDone(total, event.Records.length);
  }
});
