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
 * measures with the same). V8 lets garbage grow the heap up to its limit before collecting
 * hard, and RSS follows, so the limit is what bounds the peak in a burst. The pod cache and
 * the event buffer keep their JSON outside the heap, so what must fit is small: ~12 MiB of
 * code and state plus ~1.1 KiB per cached pod (23 MiB live with 10,000 pods and the
 * EventBridge SDK loaded). 40 MiB is 1.7× that: past ~15,000 pods raise it by about 1.5 MiB
 * per 1,000 pods (docs/performance.md "Forwarder").
 */
export const FORWARDER_NODE_OPTIONS = '--max-old-space-size=40 --max-semi-space-size=1';
