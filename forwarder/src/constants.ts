/**
 * Constants other parts of regwatch match on: the CDK rule that routes forwarder events
 * filters on `source` and `detail-type`, so these never change without changing it too.
 */

/** EventBridge `Source` of every pod event the forwarder puts. */
export const EVENT_SOURCE = 'regwatch.forwarder';
/** EventBridge `DetailType` of every pod event the forwarder puts. */
export const EVENT_DETAIL_TYPE = 'Pod Event';

/** PutEvents accepts at most this many entries per call. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** PutEvents accepts at most this many bytes per call (entries summed as AWS counts them). */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** Metric name prefix. */
export const METRIC_PREFIX = 'regwatch_forwarder_';

/**
 * V8 heap limits the container runs with (the Deployment's NODE_OPTIONS; `npm run bench`
 * measures with the same). Without them V8 lets garbage grow the heap far past what is live
 * (~35 MiB with 10,000 pods) before collecting, and RSS follows.
 */
export const FORWARDER_NODE_OPTIONS = '--max-old-space-size=80 --max-semi-space-size=2';
