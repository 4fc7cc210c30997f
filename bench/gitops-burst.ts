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
//   npx node bench/gitops-burst.ts [--quick]
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
  const started = performance.now();
  const applied = await cp.kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], {
    input: burstManifest(namespace, n, name),
    timeoutMs: 900_000,
  });
  const applyMs = performance.now() - started;
  if (applied.code !== 0)
    throw new Error(`kubectl apply (${name}): ${applied.stderr.slice(0, 500)}`);
  const applyEnd = performance.now();
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
  // The next round starts from the same cluster: this burst's configs leave (an
  // Active config goes only with the override, which the admin user may give).
  const annotated = await cp.kubectl(
    ['annotate', 'topologyconfigs', '--all', '-n', namespace, `${OVERRIDE}=true`, '--overwrite'],
    { timeoutMs: 600_000 },
  );
  if (annotated.code !== 0) throw new Error(`annotating ${namespace}: ${annotated.stderr}`);
  // Deleted by the admin user: the namespace controller is not authorised to override.
  const gone = await cp.kubectl(
    ['delete', 'topologyconfigs', '--all', '-n', namespace, '--wait=true', '--timeout=600s'],
    { timeoutMs: 620_000 },
  );
  if (gone.code !== 0) throw new Error(`deleting the configs of ${namespace}: ${gone.stderr}`);
  // The namespace stays: deleting it waits for the namespace controller to
  // remove every Event of the burst (minutes on a loaded machine).
  return { setup, round: index, configs: n, applyMs, activeAfterApplyMs, loadAverage1m };
}

export async function runGitopsBurst(flags: BenchFlags): Promise<BurstResults> {
  const n = flags.quick ? 200 : 1_000;
  // BENCH_BURST_ROUNDS: fewer rounds when time is short (a round is one burst per setup).
  const rounds = Number(process.env.BENCH_BURST_ROUNDS ?? (flags.quick ? 1 : 3));
  const cp = await startControlPlane();
  let product: Product | undefined;
  try {
    const port = await freePort();
    await registerWebhooks(cp, port);
    await ensureNamespaces(cp, ['harikube', 'burst-probe']);
    product = await startProduct(cp, {
      name: 'bench-burst',
      webhookPort: port,
      args: ['--allowed-target-secrets=harikube/*', '--log-level=info'],
    });
    await product.waitReady(120_000);
    await rememberCaBundle(cp);
    const results: Round[] = [];
    for (let i = 1; i <= rounds; i++) {
      // Alternating order: each setup goes first, second and third once in three rounds.
      const order = SETUPS.map((_, k) => SETUPS[(k + i - 1) % SETUPS.length]!);
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
    `GitOps burst: ${r.configs} configs in one kubectl apply --server-side (Kubernetes ${r.kubernetes}; medians of ${r.rounds.length / SETUPS.length} alternating rounds)`,
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
      SETUPS.map((s) => [
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
