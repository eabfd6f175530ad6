/** The registry path's pure core: event parsing, finding identity, verdicts, scan checks. */
export { checkDigest, type DigestCheck } from './digest.ts';
export {
  DETAIL_TYPES,
  ECR_SOURCE,
  type EcrPushEvent,
  type EcrRepositoryRef,
  INSPECTOR_SOURCE,
  type InspectorFindingEvent,
  normalizeCounts,
  type ParseOutcome,
  parseRegistryEvent,
  parseRepositoryArn,
  type RegistryEvent,
  type ScanCompletedEvent,
} from './events.ts';
export {
  ecrRepositoryName,
  identityImage,
  PUSH_CONTAINER,
  pushCandidates,
  pushedReference,
  REGISTRY_WORKLOAD_KIND,
  type RegistrySubject,
  type RegistryViolation,
  registryCandidate,
  registryCluster,
  SCAN_CONTAINER,
} from './identity.ts';
export {
  backoffSeconds,
  FIRST_CHECK_DELAY_SECONDS,
  isScanCheck,
  MAX_SQS_DELAY_SECONDS,
  nextScanCheck,
  SCAN_CHECK_TYPE,
  type ScanCheckMessage,
  scanCheckMessageSchema,
  scanCheckRepository,
  scanCheckSchedule,
} from './schedule.ts';
export { parseAwsTime } from './time.ts';
export { SCAN_TO_SEVERITY, vulnerabilityVerdict } from './vulnerability.ts';
