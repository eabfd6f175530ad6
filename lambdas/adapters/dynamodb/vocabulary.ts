/**
 * Value lists the stores validate against. Most come from the shared types; the two unions
 * that types.ts declares only as types are listed here, checked against them at compile time.
 */
import type { ContainerKind, ObservationSource } from '../../core/types.ts';

export { FINDING_STATUSES, SEVERITIES, VIOLATION_RULES } from '../../core/types.ts';

export const CONTAINER_KINDS_FOR_STORE = [
  'container',
  'initContainer',
  'ephemeralContainer',
] as const satisfies readonly ContainerKind[];

export const OBSERVATION_SOURCES_FOR_STORE = [
  'audit',
  'forwarder',
  'ecr',
  'inspector',
] as const satisfies readonly ObservationSource[];

// Fails to compile if types.ts gains a value these lists lack.
type Missing<Union, List extends readonly unknown[]> = Exclude<Union, List[number]>;
const exhaustive: [
  Missing<ContainerKind, typeof CONTAINER_KINDS_FOR_STORE>,
  Missing<ObservationSource, typeof OBSERVATION_SOURCES_FOR_STORE>,
] extends [never, never]
  ? true
  : false = true;
void exhaustive;
