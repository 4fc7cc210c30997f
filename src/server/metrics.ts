// Prometheus metrics on their own registry. Served by metrics-server.ts to
// callers that metrics-auth.ts lets in.
//
// Label values come from closed sets only (operation, webhook, result, state):
// never an object name, an endpoint or anything else a user controls.
//
// Beside the product's own topology_* metrics, the names, labels and buckets
// of controller-runtime v0.25 (webhook, reconcile, client-go work queue,
// leader election), so dashboards and alerts written for controller-runtime
// operators read this one too. Their label values are closed as well: the
// webhook paths, the controller name, the Lease name from the flags.

import { X509Certificate } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkQueueMetrics } from '../reconcile/queue.ts';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | 'UNKNOWN';
export type WebhookKind = 'validating' | 'mutating';
export type ReconcileResult = 'success' | 'error' | 'conflict';
export type ConfigState = 'Active' | 'Pending' | 'Error';

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** The `controller` label, and the work queue's `name`: controller-runtime names them after the kind. */
export const CONTROLLER_NAME = 'topologyconfig';
// controller-runtime's buckets: ExponentialBuckets(10e-9, 10, 12), 10 ns … 1000 s,
// for the webhook and the queue; written out, since repeated multiplication
// would print 0.000009999999999999999 for 1e-5.
const NANOS_TO_KILOSECONDS = Array.from({ length: 12 }, (_, i) => Number(`1e${i - 8}`));
const RECONCILE_TIME_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
  1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

export interface MetricsOptions {
  /** The leader-election Lease's name: leader_election_master_status{name}. */
  leaseName?: string;
  /** The serving certificate now (PEM), for its expiry gauge. */
  servingCertificate?: () => string | undefined;
  /** Data bytes of the largest managed target Secret, and the limit a Secret may reach. */
  targetSecretSizes?: () => { largestBytes: number; limitBytes: number };
}
const CONFIG_STATES: readonly ConfigState[] = ['Active', 'Pending', 'Error'];

export interface Metrics {
  registry: Registry;
  admissionRequests: Counter<'operation' | 'webhook' | 'allowed'>;
  admissionDuration: Histogram<'webhook'>;
  reconcileTotal: Counter<'result'>;
  reconcileDuration: Histogram;
  workqueueDepth: Gauge;
  leader: Gauge;
  configs: Gauge<'state'>;
  /** One admission answered. `operation` is the request's, normalised to a known value. */
  observeAdmission(o: {
    operation: string | undefined;
    webhook: WebhookKind;
    allowed: boolean;
    seconds: number;
  }): void;
  observeReconcile(result: ReconcileResult, seconds: number): void;
  setLeader(isLeader: boolean): void;
  setWorkqueueDepth(depth: number): void;
  /** Number of configs per status.deployStatus; states left out are set to 0. */
  setConfigCounts(counts: Partial<Record<ConfigState, number>>): void;
  /** controller-runtime's webhook metrics, per HTTP request (any code, aborted ones too). */
  webhookHttp: {
    started(path: string): void;
    finished(path: string, code: number | undefined, seconds: number): void;
  };
  /** client-go's work-queue metrics of the controller's queue. */
  workQueue: WorkQueueMetrics;
  setWorkers(active: number, max: number): void;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const admissionRequests = new Counter({
    name: 'topology_admission_requests_total',
    help: 'Admission reviews answered, by operation, webhook and decision.',
    labelNames: ['operation', 'webhook', 'allowed'] as const,
    registers: [registry],
  });
  const admissionDuration = new Histogram({
    name: 'topology_admission_duration_seconds',
    help: 'Time to answer an admission review.',
    labelNames: ['webhook'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const reconcileTotal = new Counter({
    name: 'topology_reconcile_total',
    help: 'Reconciliations of a target Secret, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'topology_reconcile_duration_seconds',
    help: 'Time to reconcile a target Secret.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const workqueueDepth = new Gauge({
    name: 'topology_workqueue_depth',
    help: 'Target Secrets waiting to be reconciled.',
    registers: [registry],
  });
  const leader = new Gauge({
    name: 'topology_leader',
    help: '1 if this replica is the leader (reconciles), else 0.',
    registers: [registry],
  });
  const configs = new Gauge({
    name: 'topology_configs',
    help: 'TopologyConfigs by status.deployStatus.',
    labelNames: ['state'] as const,
    registers: [registry],
  });

  // controller-runtime: the webhook server.
  const webhookRequests = new Counter({
    name: 'controller_runtime_webhook_requests_total',
    help: 'Total number of admission requests by HTTP status code.',
    labelNames: ['webhook', 'code'] as const,
    registers: [registry],
  });
  const webhookLatency = new Histogram({
    name: 'controller_runtime_webhook_latency_seconds',
    help: 'Histogram of the latency of processing admission requests',
    labelNames: ['webhook'] as const,
    buckets: NANOS_TO_KILOSECONDS,
    registers: [registry],
  });
  const webhookInFlight = new Gauge({
    name: 'controller_runtime_webhook_requests_in_flight',
    help: 'Current number of admission requests being served.',
    labelNames: ['webhook'] as const,
    registers: [registry],
  });
  // controller-runtime: the controller.
  const controller = { controller: CONTROLLER_NAME };
  const crReconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [registry],
  });
  const crReconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [registry],
  });
  const crReconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: RECONCILE_TIME_BUCKETS,
    registers: [registry],
  });
  const maxConcurrent = new Gauge({
    name: 'controller_runtime_max_concurrent_reconciles',
    help: 'Maximum number of concurrent reconciles per controller',
    labelNames: ['controller'] as const,
    registers: [registry],
  });
  const activeWorkers = new Gauge({
    name: 'controller_runtime_active_workers',
    help: 'Number of currently used workers per controller',
    labelNames: ['controller'] as const,
    registers: [registry],
  });
  // client-go's work queue, as controller-runtime labels it.
  const queue = { name: CONTROLLER_NAME, controller: CONTROLLER_NAME };
  const queueDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue by workqueue and priority',
    labelNames: ['name', 'controller', 'priority'] as const,
    registers: [registry],
  });
  const queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name', 'controller'] as const,
    registers: [registry],
  });
  const queueLatency = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name', 'controller'] as const,
    buckets: NANOS_TO_KILOSECONDS,
    registers: [registry],
  });
  const workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames: ['name', 'controller'] as const,
    buckets: NANOS_TO_KILOSECONDS,
    registers: [registry],
  });
  const queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of items added to the workqueue with a non-zero delay (rate-limited requeues, explicit RequeueAfter or AddAfter calls)',
    labelNames: ['name', 'controller'] as const,
    registers: [registry],
  });
  const masterStatus = new Gauge({
    name: 'leader_election_master_status',
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    labelNames: ['name'] as const,
    registers: [registry],
  });
  const lease = { name: options.leaseName ?? 'none' };

  // The product's own: what the alerts about certificates and Secret sizes need.
  let parsed: { pem: string; notAfter: number } | undefined;
  new Gauge({
    name: 'topology_webhook_certificate_expiration_timestamp_seconds',
    help: 'When the serving certificate of the webhook and /metrics expires (Unix time).',
    registers: [registry],
    collect() {
      const pem = options.servingCertificate?.();
      if (!pem) return;
      if (parsed?.pem !== pem)
        parsed = { pem, notAfter: new X509Certificate(pem).validToDate.getTime() / 1000 };
      this.set(parsed.notAfter);
    },
  });
  new Gauge({
    name: 'topology_target_secret_largest_size_bytes',
    help: 'Data bytes (keys and values) of the largest merged target Secret this replica sees.',
    registers: [registry],
    collect() {
      if (options.targetSecretSizes) this.set(options.targetSecretSizes().largestBytes);
    },
  });
  new Gauge({
    name: 'topology_target_secret_size_limit_bytes',
    help: 'Data bytes a merged target Secret may hold; configs that would pass it are refused.',
    registers: [registry],
    collect() {
      if (options.targetSecretSizes) this.set(options.targetSecretSizes().limitBytes);
    },
  });

  // Every series exists from the start, so rate() and alerts see zeros, not gaps.
  for (const result of ['success', 'error', 'requeue', 'requeue_after'])
    crReconcileTotal.inc({ ...controller, result }, 0);
  crReconcileErrors.inc(controller, 0);
  activeWorkers.set(controller, 0);
  queueDepth.set({ ...queue, priority: '' }, 0);
  queueAdds.inc(queue, 0);
  queueRetries.inc(queue, 0);
  masterStatus.set(lease, 0);
  leader.set(0);
  workqueueDepth.set(0);
  for (const state of CONFIG_STATES) configs.set({ state }, 0);
  for (const result of ['success', 'error', 'conflict'] as const) reconcileTotal.inc({ result }, 0);

  return {
    registry,
    admissionRequests,
    admissionDuration,
    reconcileTotal,
    reconcileDuration,
    workqueueDepth,
    leader,
    configs,
    observeAdmission({ operation, webhook, allowed, seconds }) {
      const op = operation !== undefined && OPERATIONS.includes(operation) ? operation : 'UNKNOWN';
      admissionRequests.inc({ operation: op, webhook, allowed: allowed ? 'true' : 'false' });
      admissionDuration.observe({ webhook }, seconds);
    },
    observeReconcile(result, seconds) {
      reconcileTotal.inc({ result });
      reconcileDuration.observe(seconds);
      // A conflict is retried at once: controller-runtime's "requeue".
      crReconcileTotal.inc({ ...controller, result: result === 'conflict' ? 'requeue' : result });
      if (result === 'error') crReconcileErrors.inc(controller);
      crReconcileTime.observe(controller, seconds);
    },
    setLeader(isLeader) {
      leader.set(isLeader ? 1 : 0);
      masterStatus.set(lease, isLeader ? 1 : 0);
    },
    setWorkqueueDepth(depth) {
      workqueueDepth.set(depth);
      queueDepth.set({ ...queue, priority: '' }, depth);
    },
    webhookHttp: {
      started(path) {
        webhookInFlight.inc({ webhook: path });
      },
      finished(path, code, seconds) {
        webhookInFlight.dec({ webhook: path });
        if (code === undefined) return;
        webhookRequests.inc({ webhook: path, code: String(code) });
        webhookLatency.observe({ webhook: path }, seconds);
      },
    },
    workQueue: {
      added: () => queueAdds.inc(queue),
      started: (seconds) => queueLatency.observe(queue, seconds),
      finished: (seconds) => workDuration.observe(queue, seconds),
      retried: () => queueRetries.inc(queue),
    },
    setWorkers(active, max) {
      activeWorkers.set(controller, active);
      maxConcurrent.set(controller, max);
    },
    setConfigCounts(counts) {
      for (const state of CONFIG_STATES) configs.set({ state }, counts[state] ?? 0);
    },
  };
}
