/**
 * Workloads and their containers from Kubernetes manifests (`regwatch check -f`): one entry
 * per object, `List` objects expanded. Unknown kinds are reported, not thrown.
 */
import type { ContainerImage, WorkloadRef } from '../types.ts';
import { extractContainers, isPodSpecKind } from './containers.ts';
import { workloadOf } from './workload.ts';

export interface ManifestEntry {
  kind: string;
  name: string;
  namespace: string | null;
  containers: ContainerImage[];
  /** The owning workload (a ReplicaSet owned by a Deployment → the Deployment). */
  workload: WorkloadRef;
  /** Why no containers were read: `no pod template` for kinds without one. */
  skipped?: 'no pod template' | 'not a Kubernetes object' | undefined;
}

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Entries for one parsed manifest document (an object, a `List`, or null for an empty YAML document). */
export function extractFromManifest(doc: unknown): ManifestEntry[] {
  if (doc === null || doc === undefined) return [];
  if (Array.isArray(doc)) return doc.flatMap((d) => extractFromManifest(d));
  if (!isObj(doc)) {
    return [
      {
        kind: '',
        name: '',
        namespace: null,
        containers: [],
        workload: { kind: '', name: '' },
        skipped: 'not a Kubernetes object',
      },
    ];
  }
  const kind = str(doc.kind) ?? '';
  // `kind: List` (kubectl get -o yaml) and typed lists such as `DeploymentList`.
  if ((kind === 'List' || kind.endsWith('List')) && Array.isArray(doc.items)) {
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    return doc.items.flatMap((item) =>
      extractFromManifest(
        isObj(item) && itemKind && !item.kind ? { ...item, kind: itemKind } : item,
      ),
    );
  }
  const md = isObj(doc.metadata) ? doc.metadata : {};
  const name = str(md.name) ?? str(md.generateName) ?? '';
  const namespace = str(md.namespace) ?? null;
  const base = { kind, name, namespace, workload: workloadOf(doc, {}, kind || undefined) };
  if (!isPodSpecKind(kind)) return [{ ...base, containers: [], skipped: 'no pod template' }];
  return [{ ...base, containers: extractContainers(doc, kind) }];
}
