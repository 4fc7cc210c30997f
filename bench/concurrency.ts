// Benchmark 4: 100 conflicting creates fired at once at two replicas. Two
// product processes (leader election on, so one reconciles) sit behind a
// round-robin TCP proxy on loopback, as a Service would put them, and the
// webhook configurations point at the proxy; both share the self-provisioned
// serving certificate through their Secret. The creates go straight to the
// API server over HTTPS, all in flight together: 10 groups of 10, each group
// conflicting on one backend name or on one position in its own target
// Secret. Reported: how many the webhooks admitted, and whether the
// reconciler ended with exactly one Active per group, the others in Error,
// and the group's Secret holding only the winner.
//   npx node bench/concurrency.ts
import { secretKeyFor } from '../src/secret-format/entry.ts';
import type { TopologyConfig } from '../src/resource/types.ts';
import { startControlPlane } from '../test/harness/controlplane.ts';
import type { Product } from '../test/harness/product.ts';
import { registerWebhooks, startProduct } from '../test/harness/product.ts';
import { roundRobinProxy } from '../test/harness/round-robin.ts';
import { configYaml, waitFor } from '../test/e2e/support.ts';
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import { api, apiAgent, ensureNamespaces } from './lib/cluster.ts';
import { heading, writeResults } from './lib/report.ts';
import { int, ms, table } from './lib/stats.ts';

const NAMESPACE = 'bench-conc';
export const GROUPS = 10;
export const PER_GROUP = 10;

export interface GroupResult {
  group: number;
  conflictOn: 'backend name' | 'position';
  target: string;
  admitted: number;
  refused: number;
  active: number;
  error: number;
  /** The Active config is the merge order's first among the admitted ones. */
  winnerIsFirstInMergeOrder: boolean;
  /** The target Secret holds exactly the winner's key. */
  secretHoldsOnlyWinner: boolean;
}

export interface ConcurrencyResults {
  creates: number;
  admitted: number;
  refusedByStatus: Record<string, number>;
  /** Time for all 100 API-server answers. */
  burstMs: number;
  /** From the burst until every admitted config had a final status for its generation. */
  settleMs: number;
  reviewsPerReplica: Record<string, number>;
  connectionsPerReplica: Record<string, number>;
  groups: GroupResult[];
  /** A second wave of the same conflicts once the first had settled: the webhooks now know the winners. */
  secondWave: { creates: number; admitted: number; refusedByStatus: Record<string, number> };
  ok: boolean;
}

function member(group: number, index: number): TopologyConfig {
  const byName = group < GROUPS / 2;
  const name = `g${group}-m${index}`;
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      targetSecret: `harikube/conc-g${group}`,
      // A name group shares one backend name at distinct positions; a
      // position group shares one position with distinct names.
      position: byName ? index + 1 : 1,
      backends: [
        {
          name: byName ? `conc-g${group}-shared-db` : `conc-${name}-db`,
          endpoint: `postgres://app:pw@${name}.db.svc:5432/kine`,
          customresource: { group: `${name}.example.com`, kind: 'Thing' },
        },
      ],
    },
  };
}

interface Listed {
  metadata: { name: string; generation: number; creationTimestamp: string };
  spec: { position: number };
  status?: { deployStatus?: string; observedGeneration?: number };
}

/** Merge order: lower position, then older, then namespace/name. */
function mergeOrder(a: Listed, b: Listed): number {
  if (a.spec.position !== b.spec.position) return a.spec.position - b.spec.position;
  const ta = Date.parse(a.metadata.creationTimestamp);
  const tb = Date.parse(b.metadata.creationTimestamp);
  if (ta !== tb) return ta - tb;
  return a.metadata.name < b.metadata.name ? -1 : 1;
}

export async function runConcurrency(_flags: BenchFlags): Promise<ConcurrencyResults> {
  const cp = await startControlPlane();
  const proxy = await roundRobinProxy();
  const replicas: Product[] = [];
  const agent = apiAgent(cp, GROUPS * PER_GROUP);
  try {
    await registerWebhooks(cp, proxy.port);
    for (const name of ['replica-a', 'replica-b']) {
      replicas.push(
        await startProduct(cp, {
          name,
          leaderElect: true,
          args: ['--allowed-target-secrets=harikube/*'],
        }),
      );
    }
    proxy.setTargets(replicas.map((r) => r.webhookPort));
    for (const r of replicas) await r.waitReady(60_000);
    await ensureNamespaces(cp, [NAMESPACE]);
    // Only the mutating webhook can fill in an omitted position: proof that it is called and trusted.
    await waitFor(
      'the webhook to be called through the proxy',
      async () =>
        (
          await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], {
            input: configYaml({
              name: 'probe',
              namespace: NAMESPACE,
              targetSecret: 'harikube/conc-probe',
              backends: [{ name: 'probe-db', endpoint: 'postgres://probe.db.svc:5432/kine' }],
            }),
          })
        ).code === 0,
      60_000,
      250,
    );
    const reviewsBefore = replicas.map((r) => reviewCount(r));

    const creates = Array.from({ length: GROUPS * PER_GROUP }, (_, i) =>
      member(Math.floor(i / PER_GROUP), i % PER_GROUP),
    );
    // Open the connections first, so that the creates leave together.
    await Promise.all(Array.from({ length: 20 }, () => api(cp, agent, 'GET', '/version')));
    const burstStart = performance.now();
    const answers = await Promise.all(
      creates.map((c) =>
        api<{ message?: string }>(
          cp,
          agent,
          'POST',
          `/apis/harikube.info/v1/namespaces/${NAMESPACE}/topologyconfigs`,
          c,
        ),
      ),
    );
    const burstMs = performance.now() - burstStart;
    const admittedNames = new Set(
      creates.filter((_, i) => answers[i]!.status === 201).map((c) => c.metadata.name!),
    );
    const refusedByStatus = countRefusals(answers);
    log(`${admittedNames.size} of ${creates.length} admitted in ${burstMs.toFixed(0)} ms`);

    // Settled: every admitted config has a final status for its generation.
    const listPath = `/apis/harikube.info/v1/namespaces/${NAMESPACE}/topologyconfigs`;
    const settled = await waitFor(
      'every admitted config to be Active or Error',
      async () => {
        const list = await api<{ items: Listed[] }>(cp, agent, 'GET', listPath);
        const items = list.body.items.filter((o) => admittedNames.has(o.metadata.name));
        const done = items.every(
          (o) =>
            (o.status?.deployStatus === 'Active' || o.status?.deployStatus === 'Error') &&
            o.status.observedGeneration === o.metadata.generation,
        );
        return done && items.length === admittedNames.size ? items : undefined;
      },
      120_000,
      200,
    );
    const settleMs = performance.now() - burstStart - burstMs;

    const groups: GroupResult[] = [];
    for (let g = 0; g < GROUPS; g++) {
      const target = `harikube/conc-g${g}`;
      const mine = settled.filter((o) => o.metadata.name.startsWith(`g${g}-`));
      const active = mine.filter((o) => o.status?.deployStatus === 'Active');
      const winner = [...mine].sort(mergeOrder)[0];
      const secret = await api<{ data?: Record<string, string> }>(
        cp,
        agent,
        'GET',
        `/api/v1/namespaces/harikube/secrets/conc-g${g}`,
      );
      const keys = Object.keys(secret.body.data ?? {});
      const expectedKey = winner
        ? secretKeyFor({
            metadata: { namespace: NAMESPACE, name: winner.metadata.name },
            spec: { position: winner.spec.position },
          } as TopologyConfig)
        : undefined;
      groups.push({
        group: g,
        conflictOn: g < GROUPS / 2 ? 'backend name' : 'position',
        target,
        admitted: mine.length,
        refused: PER_GROUP - mine.length,
        active: active.length,
        error: mine.filter((o) => o.status?.deployStatus === 'Error').length,
        winnerIsFirstInMergeOrder:
          active.length === 1 && active[0]!.metadata.name === winner?.metadata.name,
        secretHoldsOnlyWinner: keys.length === 1 && keys[0] === expectedKey,
      });
    }
    // Second wave: the same conflicts again, now that the caches hold the first.
    const wave2 = Array.from({ length: GROUPS * PER_GROUP }, (_, i) =>
      member(Math.floor(i / PER_GROUP), PER_GROUP + (i % PER_GROUP)),
    );
    const answers2 = await Promise.all(
      wave2.map((c) =>
        api(cp, agent, 'POST', `/apis/harikube.info/v1/namespaces/${NAMESPACE}/topologyconfigs`, c),
      ),
    );
    const secondWave = {
      creates: wave2.length,
      admitted: answers2.filter((a) => a.status === 201).length,
      refusedByStatus: countRefusals(answers2),
    };
    log(`second wave: ${secondWave.admitted} of ${wave2.length} admitted`);
    const reviewsPerReplica = Object.fromEntries(
      replicas.map((r, i) => [r.name, reviewCount(r) - reviewsBefore[i]!]),
    );
    const connectionsPerReplica = Object.fromEntries(
      replicas.map((r, i) => [r.name, proxy.connections[i] ?? 0]),
    );
    return {
      creates: creates.length,
      admitted: admittedNames.size,
      refusedByStatus,
      burstMs,
      settleMs,
      reviewsPerReplica,
      connectionsPerReplica,
      groups,
      secondWave,
      ok:
        secondWave.admitted === 0 &&
        groups.every(
          (g) =>
            g.active === 1 &&
            g.error === g.admitted - 1 &&
            g.winnerIsFirstInMergeOrder &&
            g.secretHoldsOnlyWinner,
        ),
    };
  } finally {
    agent.destroy();
    await Promise.allSettled(replicas.map((r) => r.stop()));
    await proxy.close();
    await cp.stop();
  }
}

function countRefusals(answers: ReadonlyArray<{ status: number }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) if (a.status !== 201) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

/** Admission reviews a replica has logged (one line each). */
function reviewCount(product: Product): number {
  return product.logs().filter((line) => line.msg === 'admission review').length;
}

export function printConcurrency(r: ConcurrencyResults): void {
  heading(
    `${r.creates} conflicting creates at once, two replicas behind a round-robin proxy (leader election on)`,
  );
  const refused = Object.entries(r.refusedByStatus)
    .map(([status, n]) => `${n} × HTTP ${status}`)
    .join(', ');
  console.log(
    `Admitted ${r.admitted} of ${r.creates} (refused: ${refused || 'none'}); all answered in ${ms(r.burstMs)} ms; statuses final ${ms(r.settleMs)} ms later. Reviews served: ${Object.entries(
      r.reviewsPerReplica,
    )
      .map(([name, n]) => `${name} ${int(n)}`)
      .join(', ')} (connections ${Object.values(r.connectionsPerReplica).join(' / ')}).\n`,
  );
  console.log(
    table(
      [
        'group',
        'conflict on',
        'admitted',
        'refused',
        'Active',
        'Error',
        'winner = first in merge order',
        'Secret holds only the winner',
      ],
      r.groups.map((g) => [
        String(g.group),
        g.conflictOn,
        String(g.admitted),
        String(g.refused),
        String(g.active),
        String(g.error),
        g.winnerIsFirstInMergeOrder ? 'yes' : 'NO',
        g.secretHoldsOnlyWinner ? 'yes' : 'NO',
      ]),
    ),
  );
  const refused2 = Object.entries(r.secondWave.refusedByStatus)
    .map(([status, n]) => `${n} × HTTP ${status}`)
    .join(', ');
  console.log(
    `\nSecond wave, the same conflicts once the first had settled: admitted ${r.secondWave.admitted} of ${r.secondWave.creates} (refused by the webhook: ${refused2 || 'none'}).`,
  );
  console.log(
    `Result: ${r.ok ? 'exactly one Active per conflict group, every other admitted config in Error, each Secret holding only its winner, and the second wave refused' : 'FAILED: see above'}`,
  );
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = await runConcurrency(flags);
  printConcurrency(results);
  console.log(`\nwrote ${writeResults('concurrency', results)}`);
  if (!results.ok) process.exitCode = 1;
}
