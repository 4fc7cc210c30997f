// Prometheus metrics on their own registry. Served by metrics-server.ts to
// callers that metrics-auth.ts lets in.
//
// Label values come from closed sets only (operation, webhook, result, state):
// never an object name, an endpoint or anything else a user controls.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | 'UNKNOWN';
export type WebhookKind = 'validating' | 'mutating';
export type ReconcileResult = 'success' | 'error' | 'conflict';
export type ConfigState = 'Active' | 'Pending' | 'Error';

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
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
}

export function createMetrics(): Metrics {
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
  // Every series exists from the start, so rate() and alerts see zeros, not gaps.
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
    },
    setLeader(isLeader) {
      leader.set(isLeader ? 1 : 0);
    },
    setWorkqueueDepth(depth) {
      workqueueDepth.set(depth);
    },
    setConfigCounts(counts) {
      for (const state of CONFIG_STATES) configs.set({ state }, counts[state] ?? 0);
    },
  };
}
