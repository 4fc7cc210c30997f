// Benchmark 5: a GitOps-sized burst. 1,000 configs in one `kubectl apply
// --server-side` (as Argo CD or Flux apply a repository), on the local real
// control plane with the product running, in three admission setups, rounds
// alternating so that the machine's load falls on each alike:
//   - the product's webhooks registered (mutate, then validate);
//   - no admission at all (the reconciler alone still judges and merges);
//   - an in-tree ValidatingAdmissionPolicy carrying the per-object checks CEL
//     can express (the nearest thing to admission without a network hop).
// Each round: the apply's wall time, then the time from the end of the apply
// until every config of the burst is Active; the burst's configs are deleted
// (the reconciler takes their entries out) before the next round.
//   npx node bench/gitops-burst.ts [--quick] [--cpu-prof]
// BENCH_BURST_CONFIGS and BENCH_BURST_ROUNDS change the size and the rounds;
// BENCH_BURST_SETUPS (e.g. "webhooks,none") runs only some setups.
// Each round also reports what the API server spent on it, from its own
// metrics: time in each webhook per call, and the requests of the round by verb
// and resource (the reconciler's and the webhook's own calls among them).
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { ControlPlane } from '../test/harness/controlplane.ts';
import { startControlPlane } from '../test/harness/controlplane.ts';
import {
  freePort,
  registerWebhooks,
  startProduct,
  unregisterWebhooks,
  type Product,
} from '../test/harness/product.ts';
import { waitFor } from '../test/e2e/support.ts';
import { ALLOW_ROUTING_CHANGE_ANNOTATION as OVERRIDE } from '../src/resource/names.ts';
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import { activeConfigs, ensureNamespaces } from './lib/cluster.ts';
import { describeMachine, heading, machine, writeResults } from './lib/report.ts';
import { median, ms, ratio, table } from './lib/stats.ts';

export type Setup = 'webhooks' | 'none' | 'policy';
const SETUPS: readonly Setup[] = ['webhooks', 'none', 'policy'];
const LABEL = 'bench.harikube.info/burst';

export interface Round {
  setup: Setup;
  round: number;
  configs: number;
  applyMs: number;
  /** From the end of the apply until every config of the burst is Active. */
  activeAfterApplyMs: number;
  loadAverage1m: number;
  apiServer: ApiServerWork;
  product: ProductWork;
}

/** What the API server's metrics say of one round (deltas over the apply). */
export interface ApiServerWork {
  /** Mean time the API server waited for each admission webhook per call, ms, by webhook name. */
  webhookMsPerCall: Record<string, number>;
  /** Mean time of an APPLY of a topologyconfig at the API server, ms. */
  applyMsPerCall: number;
  /** Requests served during the apply, by "VERB resource[/subresource]", most first. */
  requests: Record<string, number>;
}

/** What the product's own metrics say of one round (deltas over the apply). */
export interface ProductWork {
  /** CPU seconds the product's process used during the apply (the reconciler's included). */
  cpuSeconds: number;
  /** Mean time in the handlers per review, ms, by webhook (validating, mutating). */
  handlerMsPerReview: Record<string, number>;
  /** Mean time from a request's arrival to its answer, ms, by webhook path. */
  httpMsPerRequest: Record<string, number>;
  reconciles: number;
  reconcileSeconds: number;
  /** The event loop's delay over the apply (prom-client resets it at each scrape): mean, p99 and max, ms. */
  eventLoopDelayMs: { mean: number; p99: number; max: number };
}

export interface BurstResults {
  configs: number;
  rounds: Round[];
  medians: Record<Setup, { applyMs: number; activeAfterApplyMs: number }>;
  /** Medians of the apply: webhooks / none and webhooks / policy. */
  webhooksOverNone: number;
  webhooksOverPolicy: number;
  kubernetes: string;
}

// The per-object checks of the product that CEL can express without looking
// at any other object: the bounds, names and formats, unique backend names. Conflicts, sizes, keys and positions
// between configs need the other configs, which a policy cannot see.
const POLICY = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: 'topology-bench' },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [
        {
          apiGroups: ['harikube.info'],
          apiVersions: ['v1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['topologyconfigs'],
        },
      ],
    },
    validations: [
      { expression: 'object.spec.backends.size() >= 1 && object.spec.backends.size() <= 100' },
      {
        expression:
          "object.spec.backends.all(b, b.name.size() <= 253 && b.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))",
        message: 'spec.backends[*].name must be a DNS-1123 subdomain',
      },
      {
        expression:
          'object.spec.backends.all(b, b.endpoint.size() >= 1 && b.endpoint.size() <= 4096)',
      },
      {
        expression:
          'object.spec.backends.all(b, object.spec.backends.filter(c, c.name == b.name).size() == 1)',
        message: 'backend names are unique within a config',
      },
      {
        expression:
          "object.spec.targetSecret.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$')",
      },
      { expression: 'object.spec.position >= 1 && object.spec.position <= 2147483647' },
    ],
  },
};
const BINDING = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: 'topology-bench' },
  spec: { policyName: 'topology-bench', validationActions: ['Deny'] },
};

function burstManifest(namespace: string, n: number, round: string): string {
  const items = Array.from({ length: n }, (_, i) => ({
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name: `svc-${i}`, namespace, labels: { [LABEL]: round } },
    spec: {
      targetSecret: `harikube/burst-${round}`,
      position: i + 1,
      backends: [
        {
          name: `${round}-svc-${i}`,
          endpoint: `postgres://app:pw@${round}-svc-${i}.db.svc:5432/kine`,
          customresource: { group: `svc${i}.${round}.example.com`, kind: 'Thing' },
        },
      ],
    },
  }));
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** Why a config that breaks a per-object rule (a backend name that is no DNS subdomain) is refused at admission ('' if it is not). */
async function refusalOfBadObject(cp: ControlPlane): Promise<string> {
  const bad = {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name: 'probe', namespace: 'burst-probe' },
    spec: {
      targetSecret: 'harikube/burst-probe',
      position: 1,
      backends: [
        {
          name: 'Probe_DB',
          endpoint: 'postgres://probe.db.svc:5432/kine',
          customresource: { group: 'probe.example.com', kind: 'Thing' },
        },
      ],
    },
  };
  const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], {
    input: JSON.stringify(bad),
  });
  return r.code === 0 ? '' : r.stderr;
}

/** The caBundle the server injected, for when the configurations are created again (it injects at start). */
let caBundle = '';
const KINDS = ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'] as const;

async function rememberCaBundle(cp: ControlPlane): Promise<void> {
  caBundle = await waitFor(
    'the caBundle',
    async () => {
      const r = await cp.kubectl([
        'get',
        KINDS[0],
        'topology-webhook',
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : false;
    },
    60_000,
    250,
  );
}

async function arrange(cp: ControlPlane, setup: Setup, port: number): Promise<void> {
  await cp.kubectl([
    'delete',
    'validatingadmissionpolicybinding,validatingadmissionpolicy',
    'topology-bench',
    '--ignore-not-found',
  ]);
  if (setup === 'webhooks') {
    await registerWebhooks(cp, port);
    for (const kind of KINDS) {
      const patch = [{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: caBundle }];
      const r = await cp.kubectl([
        'patch',
        kind,
        'topology-webhook',
        '--type=json',
        '-p',
        JSON.stringify(patch),
      ]);
      if (r.code !== 0) throw new Error(`caBundle of ${kind}: ${r.stderr}`);
    }
  } else await unregisterWebhooks(cp);
  if (setup === 'policy') {
    const r = await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [POLICY, BINDING] }),
    });
    if (r.code !== 0) throw new Error(`the ValidatingAdmissionPolicy: ${r.stderr}`);
  }
  // The API server picks up admission changes shortly after they are made.
  // Refused by whom: a webhook that cannot be called refuses too (failurePolicy Fail).
  const expected = {
    webhooks: 'DNS-1123 subdomain',
    policy: 'ValidatingAdmissionPolicy',
    none: '',
  }[setup];
  await waitFor(
    `admission to be ${setup}`,
    async () => {
      const refusal = await refusalOfBadObject(cp);
      return expected
        ? refusal.includes(expected) && !refusal.includes('failed calling webhook')
        : refusal === '';
    },
    60_000,
    250,
  );
}

type Samples = Map<string, number>;

/** The samples of a Prometheus text exposition whose line starts with one of `prefixes`, as "name{labels}" → value. */
function samplesOf(text: string, prefixes: readonly string[]): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!prefixes.some((p) => line.startsWith(p))) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** The API server's metrics of interest. */
async function scrape(cp: ControlPlane): Promise<Samples> {
  const r = await cp.kubectl(['get', '--raw', '/metrics'], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`API server metrics: ${r.stderr}`);
  return samplesOf(r.stdout, [
    'apiserver_admission_webhook_admission_duration_seconds_',
    'apiserver_request_total{',
    'apiserver_request_duration_seconds_sum{',
    'apiserver_request_duration_seconds_count{',
  ]);
}

/** The product's metrics of interest (its metrics endpoint, plain HTTP on loopback). */
function scrapeProduct(product: Product): Promise<Samples> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: product.metricsPort, path: '/metrics' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve(
            samplesOf(text, [
              'process_cpu_seconds_total',
              'topology_admission_duration_seconds_sum',
              'topology_admission_duration_seconds_count',
              'controller_runtime_webhook_latency_seconds_sum',
              'controller_runtime_webhook_latency_seconds_count',
              'topology_reconcile_duration_seconds_sum',
              'topology_reconcile_duration_seconds_count',
              'nodejs_eventloop_lag_mean_seconds',
              'nodejs_eventloop_lag_p99_seconds',
              'nodejs_eventloop_lag_max_seconds',
            ]),
          ),
        );
      })
      .on('error', reject);
  });
}

function productWork(before: Samples, after: Samples): ProductWork {
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const perCall = (metric: string, by: string): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const key of after.keys()) {
      if (!key.startsWith(`${metric}_sum`)) continue;
      const count = delta(key.replace(`${metric}_sum`, `${metric}_count`));
      if (count > 0) out[label(key, by)] = (1000 * delta(key)) / count;
    }
    return out;
  };
  const sumOf = (prefix: string) =>
    [...after.keys()].filter((k) => k.startsWith(prefix)).reduce((t, k) => t + delta(k), 0);
  return {
    cpuSeconds: sumOf('process_cpu_seconds_total'),
    handlerMsPerReview: perCall('topology_admission_duration_seconds', 'webhook'),
    httpMsPerRequest: perCall('controller_runtime_webhook_latency_seconds', 'webhook'),
    reconciles: sumOf('topology_reconcile_duration_seconds_count'),
    reconcileSeconds: sumOf('topology_reconcile_duration_seconds_sum'),
    eventLoopDelayMs: {
      mean: 1000 * (after.get('nodejs_eventloop_lag_mean_seconds') ?? 0),
      p99: 1000 * (after.get('nodejs_eventloop_lag_p99_seconds') ?? 0),
      max: 1000 * (after.get('nodejs_eventloop_lag_max_seconds') ?? 0),
    },
  };
}

const label = (key: string, name: string): string =>
  new RegExp(`[{,]${name}="([^"]*)"`).exec(key)?.[1] ?? '';

function apiServerWork(before: Samples, after: Samples): ApiServerWork {
  const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const sums = new Map<string, { sum: number; count: number }>();
  const add = (group: string, field: 'sum' | 'count', v: number) => {
    const g = sums.get(group) ?? { sum: 0, count: 0 };
    g[field] += v;
    sums.set(group, g);
  };
  const requests: Record<string, number> = {};
  for (const key of after.keys()) {
    const d = delta(key);
    if (d === 0) continue;
    if (key.startsWith('apiserver_admission_webhook_admission_duration_seconds_')) {
      const field = key.includes('_sum{') ? 'sum' : key.includes('_count{') ? 'count' : undefined;
      if (field) add(`webhook ${label(key, 'name')}`, field, d);
    } else if (key.startsWith('apiserver_request_duration_seconds_')) {
      if (label(key, 'resource') === 'topologyconfigs' && label(key, 'verb') === 'APPLY')
        add('apply', key.includes('_sum{') ? 'sum' : 'count', d);
    } else if (key.startsWith('apiserver_request_total{')) {
      const sub = label(key, 'subresource');
      const what = `${label(key, 'verb')} ${label(key, 'resource')}${sub ? `/${sub}` : ''}`;
      requests[what] = (requests[what] ?? 0) + d;
    }
  }
  const perCall = (g: { sum: number; count: number } | undefined) =>
    g && g.count > 0 ? (1000 * g.sum) / g.count : 0;
  const webhookMsPerCall: Record<string, number> = {};
  for (const [group, g] of sums)
    if (group.startsWith('webhook ')) webhookMsPerCall[group.slice(8)] = perCall(g);
  return {
    webhookMsPerCall,
    applyMsPerCall: perCall(sums.get('apply')),
    requests: Object.fromEntries(Object.entries(requests).sort((a, b) => b[1] - a[1])),
  };
}

async function round(
  cp: ControlPlane,
  product: Product,
  setup: Setup,
  index: number,
  n: number,
): Promise<Round> {
  const name = `${setup}-${index}`;
  const namespace = `burst-${name}`;
  await ensureNamespaces(cp, [namespace]);
  const loadAverage1m = machine().loadAverage1m;
  const before = await scrape(cp);
  const productBefore = await scrapeProduct(product);
  const started = performance.now();
  const applied = await cp.kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], {
    input: burstManifest(namespace, n, name),
    timeoutMs: 900_000,
  });
  const applyMs = performance.now() - started;
  if (applied.code !== 0)
    throw new Error(`kubectl apply (${name}): ${applied.stderr.slice(0, 500)}`);
  const applyEnd = performance.now();
  const mine = productWork(productBefore, await scrapeProduct(product));
  const apiServer = apiServerWork(before, await scrape(cp));
  let last: [number, number] = [0, 0];
  await waitFor(
    `the burst ${name} Active`,
    async () => {
      last = await activeConfigs(cp, `${LABEL}=${name}`);
      return last[1] === n && last[0] === n;
    },
    900_000,
    250,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message} (${last[0]} of ${last[1]} Active; ${product.logText().slice(-500)})`,
    );
  });
  const activeAfterApplyMs = performance.now() - applyEnd;
  log(
    `${name}: apply ${ms(applyMs)} ms, then all Active ${ms(activeAfterApplyMs)} ms (load ${loadAverage1m})`,
  );
  const webhooks = Object.entries(apiServer.webhookMsPerCall)
    .map(([w, t]) => `${w} ${t.toFixed(2)} ms`)
    .join(', ');
  const top = Object.entries(apiServer.requests)
    .slice(0, 8)
    .map(([w, c]) => `${w} ${c}`)
    .join(', ');
  log(
    `${name}: API server: APPLY ${apiServer.applyMsPerCall.toFixed(2)} ms each${webhooks ? `; per webhook call ${webhooks}` : ''}; requests during the apply: ${top}`,
  );
  const each = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([w, t]) => `${w} ${t.toFixed(2)} ms`)
      .join(', ');
  log(
    `${name}: product during the apply: ${mine.cpuSeconds.toFixed(2)} CPU s; ${mine.reconciles} reconciles, ${mine.reconcileSeconds.toFixed(2)} s in them; event-loop delay mean ${mine.eventLoopDelayMs.mean.toFixed(1)} ms, p99 ${mine.eventLoopDelayMs.p99.toFixed(1)}, max ${mine.eventLoopDelayMs.max.toFixed(1)}` +
      (Object.keys(mine.handlerMsPerReview).length
        ? `; per review in the handlers ${each(mine.handlerMsPerReview)}, arrival to answer ${each(mine.httpMsPerRequest)}`
        : ''),
  );
  // The next round starts from the same cluster: this burst's configs leave (an
  // Active config goes only with the override, which the admin user may give).
  const annotated = await cp.kubectl(
    ['annotate', 'topologyconfigs', '--all', '-n', namespace, `${OVERRIDE}=true`, '--overwrite'],
    { timeoutMs: 600_000 },
  );
  if (annotated.code !== 0) throw new Error(`annotating ${namespace}: ${annotated.stderr}`);
  // Deleted by the admin user: the namespace controller is not authorised to override.
  // Not with --wait: kubectl then waits for each of the N objects in turn,
  // minutes after the last is gone; one list every half second says when.
  const gone = await cp.kubectl(
    ['delete', 'topologyconfigs', '--all', '-n', namespace, '--wait=false'],
    { timeoutMs: 600_000 },
  );
  if (gone.code !== 0) throw new Error(`deleting the configs of ${namespace}: ${gone.stderr}`);
  await waitFor(
    `the configs of ${namespace} gone`,
    async () => (await activeConfigs(cp, `${LABEL}=${name}`))[1] === 0,
    900_000,
    500,
  );
  // The namespace stays: deleting it waits for the namespace controller to
  // remove every Event of the burst (minutes on a loaded machine).
  return {
    setup,
    round: index,
    configs: n,
    applyMs,
    activeAfterApplyMs,
    loadAverage1m,
    apiServer,
    product: mine,
  };
}

export async function runGitopsBurst(flags: BenchFlags): Promise<BurstResults> {
  const n = Number(process.env.BENCH_BURST_CONFIGS ?? (flags.quick ? 200 : 1_000));
  const setups = (process.env.BENCH_BURST_SETUPS ?? SETUPS.join(','))
    .split(',')
    .filter((s): s is Setup => (SETUPS as readonly string[]).includes(s));
  // BENCH_BURST_ROUNDS: fewer rounds when time is short (a round is one burst per setup).
  const rounds = Number(process.env.BENCH_BURST_ROUNDS ?? (flags.quick ? 1 : 3));
  const cp = await startControlPlane();
  let product: Product | undefined;
  try {
    const port = await freePort();
    await registerWebhooks(cp, port);
    await ensureNamespaces(cp, ['harikube', 'burst-probe']);
    if (flags.cpuProfileDir) mkdirSync(flags.cpuProfileDir, { recursive: true });
    product = await startProduct(cp, {
      name: 'bench-burst',
      // Written when the server exits (SIGTERM at the end).
      nodeArgs: flags.cpuProfileDir
        ? [
            '--cpu-prof',
            `--cpu-prof-dir=${flags.cpuProfileDir}`,
            '--cpu-prof-name=gitops-burst.cpuprofile',
          ]
        : [],
      webhookPort: port,
      // Plain metrics on loopback: the benchmark reads them around each apply.
      args: ['--allowed-target-secrets=harikube/*', '--log-level=info', '--metrics-secure=false'],
    });
    await product.waitReady(120_000);
    await rememberCaBundle(cp);
    const results: Round[] = [];
    for (let i = 1; i <= rounds; i++) {
      // Alternating order: each setup goes first, second and third once in three rounds.
      const order = setups.map((_, k) => setups[(k + i - 1) % setups.length]!);
      for (const setup of order) {
        await arrange(cp, setup, port);
        results.push(await round(cp, product, setup, i, n));
      }
    }
    const medians = Object.fromEntries(
      SETUPS.map((s) => {
        const mine = results.filter((r) => r.setup === s);
        return [
          s,
          {
            applyMs: median(mine.map((r) => r.applyMs)),
            activeAfterApplyMs: median(mine.map((r) => r.activeAfterApplyMs)),
          },
        ];
      }),
    ) as BurstResults['medians'];
    return {
      configs: n,
      rounds: results,
      medians,
      webhooksOverNone: medians.webhooks.applyMs / medians.none.applyMs,
      webhooksOverPolicy: medians.webhooks.applyMs / medians.policy.applyMs,
      kubernetes: cp.version,
    };
  } finally {
    await product?.stop();
    await cp.stop();
  }
}

const SETUP_NAMES: Record<Setup, string> = {
  webhooks: "the product's webhooks",
  none: 'no admission',
  policy: 'ValidatingAdmissionPolicy (CEL)',
};

export function printGitopsBurst(r: BurstResults): void {
  heading(
    `GitOps burst: ${r.configs} configs in one kubectl apply --server-side (Kubernetes ${r.kubernetes}; medians of ${r.rounds.length / new Set(r.rounds.map((x) => x.setup)).size} alternating rounds)`,
  );
  console.log(
    table(
      [
        'admission',
        'apply ms',
        'apply × no admission',
        'last apply → all Active ms',
        'load at each round',
      ],
      SETUPS.filter((s) => r.rounds.some((x) => x.setup === s)).map((s) => [
        SETUP_NAMES[s],
        ms(r.medians[s].applyMs),
        ratio(r.medians[s].applyMs / r.medians.none.applyMs),
        ms(r.medians[s].activeAfterApplyMs),
        r.rounds
          .filter((x) => x.setup === s)
          .map((x) => x.loadAverage1m)
          .join(', '),
      ]),
    ),
  );
  console.log(
    `\nwebhooks / no admission ${ratio(r.webhooksOverNone)} (target ≤ 1.10×), webhooks / policy ${ratio(r.webhooksOverPolicy)} (target ≤ 1.10×)`,
  );
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = await runGitopsBurst(flags);
  printGitopsBurst(results);
  console.log(
    `\nwrote ${writeResults('gitops-burst', results)}; ${describeMachine(machine())} at the end`,
  );
}
