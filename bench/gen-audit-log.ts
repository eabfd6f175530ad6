/**
 * A realistic, deterministic EKS-like Kubernetes audit log for benchmarks and tests.
 *
 *   npx node bench/gen-audit-log.ts --out /tmp/audit.jsonl --mb 200 [--seed 7] [--gzip]
 *
 * The mix follows what an EKS control-plane audit log of a busy cluster holds: mostly
 * get/list/watch and coordination.k8s.io lease renewals, kubelet pod-status patches, Event
 * creates and token reviews, and a few percent of pod and workload writes at RequestResponse
 * level with full objects (managedFields included, so they weigh 1–4 KB), some Metadata-level
 * writes, failed requests and RequestReceived copies. Every line also has a ground-truth label
 * (`truth`) so tests can check a reader + interpreter against it.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';

/** What a correct interpreter makes of the line. */
export type Truth =
  | 'observation'
  | 'metadata-only'
  | 'failed-request'
  | 'stage'
  | 'subresource'
  | 'irrelevant';

export interface GeneratedLine {
  line: string;
  truth: Truth;
  /** Container images of an `observation` line, in extraction order (containers, init, ephemeral). */
  images: string[];
}

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACCOUNT = '111122223333';
const REGION = 'us-west-2';
const ECR = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const CLUSTER_CIDR = '10.42';

const IMAGES = [
  'nginx:1.27.0',
  'nginx',
  'redis:7.2.5',
  'postgres:16.3-alpine',
  'busybox:1.36',
  'alpine:3.20',
  'bitnami/kafka:3.7.0',
  'grafana/grafana:11.1.0',
  `${ECR}/payments/api:3.14.2`,
  `${ECR}/payments/worker:3.14.2`,
  `${ECR}/storefront/web:4.18.2`,
  `${ECR}/platform/auth:1.9.0@sha256:${'4be1'.repeat(16)}`,
  `${ECR}/docker-hub/library/nginx:1.27.0`,
  'registry.k8s.io/kube-proxy:v1.30.2',
  'registry.k8s.io/coredns/coredns:v1.11.1',
  'registry.k8s.io/pause:3.9',
  'registry.k8s.io/ingress-nginx/controller:v1.11.1',
  'quay.io/prometheus/node-exporter:v1.8.1',
  'quay.io/jetstack/cert-manager-controller:v1.15.1',
  'ghcr.io/fluxcd/source-controller:v1.3.0',
  'public.ecr.aws/eks/aws-load-balancer-controller:v2.8.1',
  '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.2-eksbuild.1',
  'docker.io/library/python:3.12-slim',
  'curlimages/curl:8.8.0',
  'nicolaka/netshoot:v0.13',
  'xmrig/xmrig:latest',
  'evil-registry.example.net/tools/sh:1',
  'ghcr.io/someone-unknown/debug:dev',
  'localhost:5000/test/app:ci',
];

const HUMANS = [
  { role: 'platform-admins', session: 'alex.kim' },
  { role: 'release-managers', session: 'marco.bianchi' },
  { role: 'oncall-engineers', session: 'priya.raman' },
  { role: 'developers', session: 'sam.okafor' },
];
const NAMESPACES = [
  'default',
  'payments',
  'storefront',
  'platform',
  'monitoring',
  'kube-system',
  'batch-jobs',
];
const READ_RESOURCES = [
  ['', 'pods'],
  ['', 'configmaps'],
  ['', 'secrets'],
  ['', 'services'],
  ['', 'endpoints'],
  ['', 'nodes'],
  ['', 'namespaces'],
  ['apps', 'deployments'],
  ['apps', 'replicasets'],
  ['discovery.k8s.io', 'endpointslices'],
  ['networking.k8s.io', 'ingresses'],
  ['batch', 'jobs'],
] as const;

export class AuditLogGenerator {
  private readonly r: () => number;
  private clock = Date.parse('2025-05-01T00:00:00Z');

  constructor(seed = 1) {
    this.r = rng(seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)] as T;
  }

  private hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(this.r() * 16)];
    return s;
  }

  private safe(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += 'bcdfghjklmnpqrstvwxz2456789'[Math.floor(this.r() * 27)];
    return s;
  }

  private uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-a${this.hex(3)}-${this.hex(12)}`;
  }

  private ts(): { received: string; stage: string } {
    this.clock += Math.floor(this.r() * 40);
    const received = new Date(this.clock).toISOString().replace('Z', '123Z');
    const stage = new Date(this.clock + Math.floor(this.r() * 30))
      .toISOString()
      .replace('Z', '456Z');
    return { received, stage };
  }

  private node(): string {
    return `ip-${CLUSTER_CIDR.replace('.', '-')}-${Math.floor(this.r() * 200)}-${Math.floor(this.r() * 250)}.${REGION}.compute.internal`;
  }

  private human() {
    const h = this.pick(HUMANS);
    const principal = `AROA${this.hex(8).toUpperCase()}`;
    const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/${h.role}/${h.session}`;
    return {
      user: {
        username: arn,
        uid: `aws-iam-authenticator:${ACCOUNT}:${principal}`,
        groups: [h.role, 'system:authenticated'],
        extra: {
          accessKeyId: [`ASIA${this.hex(8).toUpperCase()}`],
          arn: [arn],
          canonicalArn: [`arn:aws:iam::${ACCOUNT}:role/${h.role}`],
          principalId: [principal],
          sessionName: [h.session],
        },
      },
      sourceIPs: [`203.0.113.${Math.floor(this.r() * 250)}`],
      userAgent: this.pick([
        'kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350',
        'Helm/3.15.2',
        'argocd-application-controller/v2.11.3',
      ]),
    };
  }

  private controller(name: string) {
    return {
      user: {
        username: `system:serviceaccount:kube-system:${name}`,
        uid: this.uuid(),
        groups: [
          'system:serviceaccounts',
          'system:serviceaccounts:kube-system',
          'system:authenticated',
        ],
      },
      sourceIPs: ['10.0.45.12'],
      userAgent: `kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/39683505/system:serviceaccount:kube-system:${name}`,
    };
  }

  private nodeUser(node: string) {
    return {
      user: {
        username: `system:node:${node}`,
        uid: `aws-iam-authenticator:${ACCOUNT}:AROA${this.hex(8).toUpperCase()}`,
        groups: ['system:bootstrappers', 'system:nodes', 'system:authenticated'],
      },
      sourceIPs: [`${CLUSTER_CIDR}.${Math.floor(this.r() * 250)}.${Math.floor(this.r() * 250)}`],
      userAgent: 'kubelet/v1.30.2-eks-1552ad0 (linux/amd64) kubernetes/1552ad0',
    };
  }

  private containers(images: string[]) {
    return images.map((image, i) => ({
      name: i === 0 ? 'app' : `sidecar-${i}`,
      image,
      ports: [{ name: 'http', containerPort: 8080 + i, protocol: 'TCP' }],
      env: [
        { name: 'LOG_LEVEL', value: this.pick(['info', 'debug', 'warn']) },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring:4317' },
      ],
      resources: {
        limits: { cpu: '500m', memory: '512Mi' },
        requests: { cpu: '100m', memory: '128Mi' },
      },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
    }));
  }

  private managedFields(manager: string, names: string[]) {
    const fields: Record<string, unknown> = {};
    for (const n of names)
      fields[`k:{"name":"${n}"}`] = {
        '.': {},
        'f:image': {},
        'f:name': {},
        'f:env': { '.': {} },
        'f:resources': {},
      };
    return [
      {
        manager,
        operation: 'Update',
        apiVersion: 'v1',
        time: new Date(this.clock).toISOString().replace(/\.\d+Z$/, 'Z'),
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': { 'f:containers': fields },
        },
      },
    ];
  }

  private podImages(): { images: string[]; init: string[] } {
    const n = 1 + Math.floor(this.r() * this.r() * 3);
    const images = Array.from({ length: n }, () => this.pick(IMAGES));
    const init = this.r() < 0.2 ? [this.pick(IMAGES)] : [];
    return { images, init };
  }

  private base(
    verb: string,
    stage: string,
    level: string,
    uri: string,
    objectRef: Record<string, unknown>,
    who: Record<string, unknown>,
  ) {
    const t = this.ts();
    return {
      head: {
        kind: 'Event',
        apiVersion: 'audit.k8s.io/v1',
        level,
        auditID: this.uuid(),
        stage,
        requestURI: uri,
        verb,
        ...who,
        objectRef,
      },
      tail: {
        requestReceivedTimestamp: t.received,
        stageTimestamp: t.stage,
        annotations: {
          'authorization.k8s.io/decision': 'allow',
          'authorization.k8s.io/reason':
            'RBAC: allowed by ClusterRoleBinding "system:controller" of ClusterRole "edit"',
        },
      },
    };
  }

  /** The next line of the log. */
  next(): GeneratedLine {
    const x = this.r();
    if (x < 0.4) return this.read();
    if (x < 0.72) return this.lease();
    if (x < 0.8) return this.podStatus();
    if (x < 0.88) return this.eventCreate();
    if (x < 0.955) return this.tokenReview();
    if (x < 0.975) return this.podCreate();
    if (x < 0.981) return this.workloadWrite();
    if (x < 0.984) return this.deploymentPatch();
    if (x < 0.985) return this.debugPatch();
    if (x < 0.99) return this.metadataCreate();
    if (x < 0.995) return this.failed();
    return this.requestReceived();
  }

  private emit(o: unknown, truth: Truth, images: string[] = []): GeneratedLine {
    // Go's encoding/json escapes <, > and & inside strings; so do the API server's audit logs.
    const line = JSON.stringify(o).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
    return { line, truth, images };
  }

  private read(): GeneratedLine {
    const [group, resource] = this.pick(READ_RESOURCES);
    const ns = this.pick(NAMESPACES);
    const verb = this.pick(['get', 'list', 'watch', 'watch', 'list']);
    const prefix = group ? `/apis/${group}/v1` : '/api/v1';
    const uri = `${prefix}/namespaces/${ns}/${resource}${verb === 'watch' ? `?allowWatchBookmarks=true&resourceVersion=${Math.floor(this.r() * 1e8)}&watch=true` : ''}`;
    const who =
      this.r() < 0.5
        ? this.nodeUser(this.node())
        : this.controller(
            this.pick([
              'endpointslice-controller',
              'namespace-controller',
              'replicaset-controller',
            ]),
          );
    const ref: Record<string, unknown> = { resource, namespace: ns, apiVersion: 'v1' };
    if (group) ref.apiGroup = group;
    const b = this.base(verb, 'ResponseComplete', 'Metadata', uri, ref, who);
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 200 }, ...b.tail },
      'irrelevant',
    );
  }

  private lease(): GeneratedLine {
    const node = this.node();
    const ns = this.r() < 0.8 ? 'kube-node-lease' : 'kube-system';
    const name =
      ns === 'kube-node-lease'
        ? node
        : this.pick(['kube-controller-manager', 'kube-scheduler', 'cloud-controller-manager']);
    const uri = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`;
    const ref = {
      resource: 'leases',
      namespace: ns,
      name,
      uid: this.uuid(),
      apiGroup: 'coordination.k8s.io',
      apiVersion: 'v1',
      resourceVersion: String(Math.floor(this.r() * 1e8)),
    };
    const b = this.base('update', 'ResponseComplete', 'Request', uri, ref, this.nodeUser(node));
    const body = {
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
      metadata: { name, namespace: ns },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: b.tail.stageTimestamp },
    };
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 200 }, requestObject: body, ...b.tail },
      'irrelevant',
    );
  }

  private podStatus(): GeneratedLine {
    const node = this.node();
    const ns = this.pick(NAMESPACES);
    const name = `app-${this.safe(9)}-${this.safe(5)}`;
    const ref = { resource: 'pods', namespace: ns, name, apiVersion: 'v1', subresource: 'status' };
    const b = this.base(
      'patch',
      'ResponseComplete',
      'Request',
      `/api/v1/namespaces/${ns}/pods/${name}/status`,
      ref,
      this.nodeUser(node),
    );
    const body = {
      metadata: { uid: this.uuid() },
      status: {
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: b.tail.stageTimestamp }],
        containerStatuses: [
          {
            name: 'app',
            image: this.pick(IMAGES),
            imageID: `docker.io/library/x@sha256:${this.hex(64)}`,
            ready: true,
            restartCount: 0,
          },
        ],
      },
    };
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 200 }, requestObject: body, ...b.tail },
      'subresource',
    );
  }

  private eventCreate(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const ref = {
      resource: 'events',
      namespace: ns,
      name: `app.${this.hex(16)}`,
      apiVersion: 'v1',
    };
    const b = this.base(
      'create',
      'ResponseComplete',
      'Metadata',
      `/api/v1/namespaces/${ns}/events`,
      ref,
      this.nodeUser(this.node()),
    );
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 201 }, ...b.tail },
      'irrelevant',
    );
  }

  private tokenReview(): GeneratedLine {
    const ref = { resource: 'tokenreviews', apiGroup: 'authentication.k8s.io', apiVersion: 'v1' };
    const b = this.base(
      'create',
      'ResponseComplete',
      'Metadata',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      ref,
      this.controller('metrics-server'),
    );
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 201 }, ...b.tail },
      'irrelevant',
    );
  }

  private pod(
    ns: string,
    deploy: string,
    hash: string,
    images: string[],
    init: string[],
    name: string,
  ) {
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        generateName: `${deploy}-${hash}-`,
        namespace: ns,
        uid: this.uuid(),
        resourceVersion: String(Math.floor(this.r() * 1e8)),
        creationTimestamp: new Date(this.clock).toISOString().replace(/\.\d+Z$/, 'Z'),
        labels: { app: deploy, 'pod-template-hash': hash },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `${deploy}-${hash}`,
            uid: this.uuid(),
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
        managedFields: this.managedFields(
          'kube-controller-manager',
          images.map((_, i) => (i === 0 ? 'app' : `sidecar-${i}`)),
        ),
      },
      spec: {
        volumes: [
          {
            name: `kube-api-access-${this.safe(5)}`,
            projected: {
              sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
              defaultMode: 420,
            },
          },
        ],
        ...(init.length > 0
          ? { initContainers: this.containers(init).map((c) => ({ ...c, name: `init-${c.name}` })) }
          : {}),
        containers: this.containers(images),
        restartPolicy: 'Always',
        serviceAccountName: deploy,
        securityContext: { runAsNonRoot: true },
        schedulerName: 'default-scheduler',
        tolerations: [
          {
            key: 'node.kubernetes.io/not-ready',
            operator: 'Exists',
            effect: 'NoExecute',
            tolerationSeconds: 300,
          },
        ],
      },
      status: { phase: 'Pending', qosClass: 'Burstable' },
    };
  }

  private podCreate(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const deploy = `${this.pick(['api', 'web', 'worker', 'gateway', 'cache'])}-${this.safe(4)}`;
    const hash = this.safe(10);
    const { images, init } = this.podImages();
    const name = `${deploy}-${hash}-${this.safe(5)}`;
    const ref = { resource: 'pods', namespace: ns, apiVersion: 'v1' };
    const b = this.base(
      'create',
      'ResponseComplete',
      'RequestResponse',
      `/api/v1/namespaces/${ns}/pods`,
      ref,
      this.controller('replicaset-controller'),
    );
    const pod = this.pod(ns, deploy, hash, images, init, name);
    const request = {
      ...pod,
      metadata: { ...pod.metadata, name: undefined, uid: undefined, managedFields: undefined },
    };
    return this.emit(
      {
        ...b.head,
        responseStatus: { metadata: {}, code: 201 },
        requestObject: request,
        responseObject: pod,
        ...b.tail,
      },
      'observation',
      [...images, ...init],
    );
  }

  private workloadWrite(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const [group, resource, kind] = this.pick([
      ['apps', 'deployments', 'Deployment'],
      ['apps', 'statefulsets', 'StatefulSet'],
      ['apps', 'daemonsets', 'DaemonSet'],
      ['batch', 'jobs', 'Job'],
      ['batch', 'cronjobs', 'CronJob'],
    ] as const);
    const name = `${this.pick(['orders', 'billing', 'search', 'ingest'])}-${this.safe(4)}`;
    const verb = this.pick(['create', 'update']);
    const { images, init } = this.podImages();
    const template = {
      metadata: { labels: { app: name } },
      spec: {
        ...(init.length > 0 ? { initContainers: this.containers(init) } : {}),
        containers: this.containers(images),
        restartPolicy: resource === 'jobs' || resource === 'cronjobs' ? 'OnFailure' : 'Always',
      },
    };
    const spec =
      resource === 'cronjobs'
        ? { schedule: '*/15 * * * *', jobTemplate: { spec: { template } } }
        : { replicas: 3, selector: { matchLabels: { app: name } }, template };
    const obj = {
      kind,
      apiVersion: `${group}/v1`,
      metadata: {
        name,
        namespace: ns,
        uid: this.uuid(),
        managedFields: this.managedFields(
          'helm',
          images.map((_, i) => (i === 0 ? 'app' : `sidecar-${i}`)),
        ),
      },
      spec,
    };
    const ref = { resource, namespace: ns, name, apiGroup: group, apiVersion: 'v1' };
    const uri = `/apis/${group}/v1/namespaces/${ns}/${resource}${verb === 'update' ? `/${name}` : ''}`;
    const b = this.base(verb, 'ResponseComplete', 'RequestResponse', uri, ref, this.human());
    // Server order would be containers first; extraction order is containers, then init.
    return this.emit(
      {
        ...b.head,
        responseStatus: { metadata: {}, code: verb === 'create' ? 201 : 200 },
        requestObject: obj,
        responseObject: obj,
        ...b.tail,
      },
      'observation',
      [...images, ...init],
    );
  }

  private deploymentPatch(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const name = `${this.pick(['orders', 'billing', 'search'])}-${this.safe(4)}`;
    const image = this.pick(IMAGES);
    const ref = {
      resource: 'deployments',
      namespace: ns,
      name,
      apiGroup: 'apps',
      apiVersion: 'v1',
    };
    const b = this.base(
      'patch',
      'ResponseComplete',
      'Request',
      `/apis/apps/v1/namespaces/${ns}/deployments/${name}?fieldManager=kubectl-set`,
      ref,
      this.human(),
    );
    const body = { spec: { template: { spec: { containers: [{ image, name: 'app' }] } } } };
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 200 }, requestObject: body, ...b.tail },
      'observation',
      [image],
    );
  }

  private debugPatch(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const deploy = `${this.pick(['api', 'web'])}-${this.safe(4)}`;
    const hash = this.safe(10);
    const name = `${deploy}-${hash}-${this.safe(5)}`;
    const debugImage = this.pick([
      'nicolaka/netshoot:v0.13',
      'busybox:1.36',
      'ghcr.io/someone-unknown/debug:dev',
    ]);
    const pod = this.pod(ns, deploy, hash, [this.pick(IMAGES)], [], name);
    const withDebug = {
      ...pod,
      spec: {
        ...pod.spec,
        ephemeralContainers: [
          {
            name: `debugger-${this.safe(5)}`,
            image: debugImage,
            targetContainerName: 'app',
            stdin: true,
            tty: true,
          },
        ],
      },
    };
    const ref = {
      resource: 'pods',
      namespace: ns,
      name,
      apiVersion: 'v1',
      subresource: 'ephemeralcontainers',
    };
    const b = this.base(
      'patch',
      'ResponseComplete',
      'RequestResponse',
      `/api/v1/namespaces/${ns}/pods/${name}/ephemeralcontainers`,
      ref,
      this.human(),
    );
    return this.emit(
      {
        ...b.head,
        responseStatus: { metadata: {}, code: 200 },
        requestObject: { spec: { ephemeralContainers: withDebug.spec.ephemeralContainers } },
        responseObject: withDebug,
        ...b.tail,
      },
      'observation',
      [pod.spec.containers[0]?.image ?? '', debugImage],
    );
  }

  private metadataCreate(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const name = `shell-${this.safe(5)}`;
    const ref = { resource: 'pods', namespace: ns, name, apiVersion: 'v1' };
    const b = this.base(
      'create',
      'ResponseComplete',
      'Metadata',
      `/api/v1/namespaces/${ns}/pods?fieldManager=kubectl-run`,
      ref,
      this.human(),
    );
    return this.emit(
      { ...b.head, responseStatus: { metadata: {}, code: 201 }, ...b.tail },
      'metadata-only',
    );
  }

  private failed(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const ref = { resource: 'pods', namespace: ns, name: `x-${this.safe(5)}`, apiVersion: 'v1' };
    const b = this.base(
      'create',
      'ResponseComplete',
      'RequestResponse',
      `/api/v1/namespaces/${ns}/pods`,
      ref,
      this.human(),
    );
    const code = this.pick([403, 409, 422]);
    const body = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: ref.name },
      spec: { containers: [{ name: 'x', image: this.pick(IMAGES) }] },
    };
    return this.emit(
      {
        ...b.head,
        responseStatus: { metadata: {}, status: 'Failure', code },
        requestObject: body,
        responseObject: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code },
        ...b.tail,
      },
      'failed-request',
    );
  }

  private requestReceived(): GeneratedLine {
    const ns = this.pick(NAMESPACES);
    const ref = { resource: 'pods', namespace: ns, apiVersion: 'v1' };
    const b = this.base(
      'create',
      'RequestReceived',
      'RequestResponse',
      `/api/v1/namespaces/${ns}/pods`,
      ref,
      this.controller('job-controller'),
    );
    const body = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { generateName: 'nightly-' },
      spec: { containers: [{ name: 'x', image: this.pick(IMAGES) }] },
    };
    return this.emit(
      {
        ...b.head,
        requestObject: body,
        requestReceivedTimestamp: b.tail.requestReceivedTimestamp,
        stageTimestamp: b.tail.requestReceivedTimestamp,
      },
      'stage',
    );
  }
}

/** Lines until at least `bytes` bytes (newlines included) were produced. */
export function* generateAuditLog(opts: {
  seed?: number;
  bytes: number;
}): Generator<GeneratedLine> {
  const gen = new AuditLogGenerator(opts.seed ?? 1);
  let total = 0;
  while (total < opts.bytes) {
    const l = gen.next();
    total += Buffer.byteLength(l.line) + 1;
    yield l;
  }
}

/** Write a generated log to `path` (gzip-compressed when `gzip`); returns the truth counts. */
export async function writeAuditLog(
  path: string,
  opts: { seed?: number; bytes: number; gzip?: boolean },
) {
  const file = createWriteStream(path);
  const out = opts.gzip ? createGzip() : file;
  if (opts.gzip) out.pipe(file);
  const counts: Record<Truth, number> = {
    observation: 0,
    'metadata-only': 0,
    'failed-request': 0,
    stage: 0,
    subresource: 0,
    irrelevant: 0,
  };
  let buf = '';
  for (const l of generateAuditLog(opts)) {
    counts[l.truth]++;
    buf += `${l.line}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(file, 'finish');
  return counts;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      mb: { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      gzip: { type: 'boolean', default: false },
    },
  });
  if (!values.out) {
    console.error('usage: node bench/gen-audit-log.ts --out FILE [--mb 200] [--seed 1] [--gzip]');
    process.exit(2);
  }
  const counts = await writeAuditLog(values.out, {
    seed: Number(values.seed),
    bytes: Number(values.mb) * 1024 * 1024,
    gzip: values.gzip,
  });
  console.log(JSON.stringify({ out: values.out, counts }));
}
