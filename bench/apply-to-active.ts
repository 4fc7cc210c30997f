// Benchmark 3b: from `kubectl apply` to `Active` on the local real control
// plane (etcd + kube-apiserver from test/harness), with the product's webhook
// registered, against the same apply with the webhook unregistered (the
// reconciler still running). Times are taken from a watch on the API server.
//   npx node bench/apply-to-active.ts [--quick]
import type { ControlPlane } from '../test/harness/controlplane.ts';
import { startControlPlane } from '../test/harness/controlplane.ts';
import type { Product } from '../test/harness/product.ts';
import {
  freePort,
  registerWebhooks,
  startProduct,
  unregisterWebhooks,
} from '../test/harness/product.ts';
import { configYaml, waitFor } from '../test/e2e/support.ts';
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import type { Watch, WatchEvent } from './lib/cluster.ts';
import { ensureNamespaces, watch } from './lib/cluster.ts';
import { heading, writeResults } from './lib/report.ts';
import { median, ms, ratio, table } from './lib/stats.ts';

const NAMESPACE = 'bench-apply';

export interface Trial {
  /** kubectl apply exited (the API server answered). */
  kubectlMs: number;
  /** The object's ADDED event arrived on a watch. */
  readableMs: number;
  /** status.deployStatus Active for its generation arrived on the watch. */
  activeMs: number;
}

export interface Condition {
  label: string;
  trials: Trial[];
  median: Trial;
}

export interface ApplyResults {
  runs: number;
  kubernetes: string;
  withWebhook: Condition;
  withoutWebhook: Condition;
  /** Medians: with the webhook / without. */
  ratios: Trial;
}

let serial = 0;

async function trial(cp: ControlPlane, events: Watch): Promise<Trial> {
  serial++;
  const name = `apply-${serial}`;
  const manifest = configYaml({
    name,
    namespace: NAMESPACE,
    position: serial,
    backends: [
      {
        name: `apply-${serial}-db`,
        endpoint: `postgres://app:pw@apply-${serial}.db.svc:5432/kine`,
        group: `apply${serial}.example.com`,
        kind: 'Thing',
      },
    ],
  });
  const started = performance.now();
  const result = await cp.kubectl(['apply', '-f', '-'], { input: manifest });
  const kubectlMs = performance.now() - started;
  if (result.code !== 0) throw new Error(`kubectl apply ${name} failed: ${result.stderr}`);
  const mine = (e: WatchEvent) => e.object.metadata.name === name;
  const added = await events.until((e) => mine(e) && e.type === 'ADDED', 30_000);
  const active = await events.until(
    (e) =>
      mine(e) &&
      e.object.status?.deployStatus === 'Active' &&
      e.object.status.observedGeneration === e.object.metadata.generation,
    60_000,
  );
  return { kubectlMs, readableMs: added.at - started, activeMs: active.at - started };
}

async function measure(
  cp: ControlPlane,
  events: Watch,
  label: string,
  runs: number,
): Promise<Condition> {
  await trial(cp, events); // warm-up: caches, connections, JIT
  const trials: Trial[] = [];
  for (let i = 0; i < runs; i++) {
    const t = await trial(cp, events);
    log(
      `${label} #${i + 1}: kubectl ${t.kubectlMs.toFixed(0)} ms, readable ${t.readableMs.toFixed(0)} ms, Active ${t.activeMs.toFixed(0)} ms`,
    );
    trials.push(t);
  }
  return {
    label,
    trials,
    median: {
      kubectlMs: median(trials.map((t) => t.kubectlMs)),
      readableMs: median(trials.map((t) => t.readableMs)),
      activeMs: median(trials.map((t) => t.activeMs)),
    },
  };
}

/** Whether the API server calls the mutating webhook: it alone can fill in an omitted position. */
async function webhookCalled(cp: ControlPlane): Promise<boolean> {
  const probe = configYaml({
    name: 'webhook-probe',
    namespace: NAMESPACE,
    backends: [{ name: 'probe-db', endpoint: 'postgres://probe.db.svc:5432/kine' }],
  });
  const result = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: probe });
  return result.code === 0;
}

export async function runApplyToActive(flags: BenchFlags): Promise<ApplyResults> {
  const runs = flags.quick ? 3 : 7;
  const cp = await startControlPlane();
  let product: Product | undefined;
  let events: Watch | undefined;
  try {
    const port = await freePort();
    await registerWebhooks(cp, port);
    product = await startProduct(cp, { webhookPort: port, name: 'bench-apply' });
    await product.waitReady(60_000);
    await ensureNamespaces(cp, [NAMESPACE]);
    // The caBundle is injected by the product; the API server picks it up shortly after.
    await waitFor('the webhook to be called', () => webhookCalled(cp), 60_000, 250);
    events = await watch(cp, `/apis/harikube.info/v1/namespaces/${NAMESPACE}/topologyconfigs`);

    const withWebhook = await measure(cp, events, 'webhook registered', runs);
    await unregisterWebhooks(cp);
    await waitFor(
      'the webhook to be no longer called',
      async () => !(await webhookCalled(cp)),
      60_000,
      250,
    );
    const withoutWebhook = await measure(cp, events, 'no webhook', runs);
    const r = (f: (t: Trial) => number) => f(withWebhook.median) / f(withoutWebhook.median);
    return {
      runs,
      kubernetes: cp.version,
      withWebhook,
      withoutWebhook,
      ratios: {
        kubectlMs: r((t) => t.kubectlMs),
        readableMs: r((t) => t.readableMs),
        activeMs: r((t) => t.activeMs),
      },
    };
  } finally {
    events?.close();
    await product?.stop();
    await cp.stop();
  }
}

export function printApplyToActive(r: ApplyResults): void {
  heading(
    `kubectl apply → Active on a local kube-apiserver ${r.kubernetes} + etcd (median of ${r.runs}; the product as a separate process, reconciler running in both)`,
  );
  const row = (c: Condition) => [
    c.label,
    ms(c.median.kubectlMs),
    ms(c.median.readableMs),
    ms(c.median.activeMs),
    `${ms(Math.min(...c.trials.map((t) => t.activeMs)))}–${ms(Math.max(...c.trials.map((t) => t.activeMs)))}`,
  ];
  console.log(
    table(
      ['condition', 'kubectl returns ms', 'readable ms', 'Active ms', 'Active range ms'],
      [
        row(r.withWebhook),
        row(r.withoutWebhook),
        [
          'webhook / no webhook',
          ratio(r.ratios.kubectlMs),
          ratio(r.ratios.readableMs),
          ratio(r.ratios.activeMs),
          '',
        ],
      ],
    ),
  );
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = await runApplyToActive(flags);
  printApplyToActive(results);
  console.log(`\nwrote ${writeResults('apply-to-active', results)}`);
}
