// Faults of leadership, with configs arriving all along:
// - the leader's Lease renewals stall (held, neither answered nor refused, by
//   a proxy in front of the real API server, as a slow or partitioned API
//   server would hold them): the old leader stops writing renewDeadline after
//   its last renewal began, every write it began ends before the standby may
//   take over, the standby takes over and writes;
// - the leader is stopped (SIGTERM) while its writes are slow: it releases
//   the Lease only once they ended.
// Once the fault is over nothing is lost: every config is Active.
//
// Two replicas, each reaching the API server through its own proxy (see
// stall-proxy.ts), which records when each write reached it and when the API
// server's answer ended. The check is made from the API server's side: every
// write of the old leader ended before the first write of the new one began
// (the API server handles a request within that window), and the
// resourceVersions the API server gave them are ordered the same way.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Product } from '../harness/product.ts';
import {
  configYaml,
  getJson,
  mustApply,
  sleep,
  useEnv,
  waitFor,
  withLogs,
} from '../e2e/support.ts';
import { startStallProxy, type StallProxy, type WriteWindow } from './stall-proxy.ts';
import { backend, say, waitForInvariant } from './support.ts';

const NS = 'chaos-stall';
const LEASE = ['lease', '-n', 'harikube-system', 'topology-webhook.harikube.info'];
const proxies: StallProxy[] = [];

const env = useEnv({
  webhooks: false,
  namespaces: [NS],
  products: async (cp) => {
    for (const name of ['proxy-a', 'proxy-b']) proxies.push(await startStallProxy(cp, name));
    return proxies.map((proxy, i) => ({
      name: `replica-${'ab'[i]}`,
      leaderElect: true,
      kubeconfigPath: proxy.kubeconfigPath,
    }));
  },
});
// After the environment's own `after` (registered first): the replicas hand
// the Lease back through their proxies while stopping.
after(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()));
});

/**
 * The writes only a leader makes: everything but the Lease, and what every
 * replica writes whether it leads or not (the shared serving-certificate
 * Secret, the webhook configurations' caBundle, access and token reviews).
 */
const REPLICA_WRITES = [
  /\/leases(\/|$)/,
  /\/namespaces\/harikube-system\/secrets\/topology-webhook-tls$/,
  /\/namespaces\/harikube-system\/secrets$/,
  /webhookconfigurations/,
  /^\/apis\/(authorization|authentication)\.k8s\.io\//,
];
const leaderWrites = (proxy: StallProxy): WriteWindow[] =>
  proxy.writes.filter((w) => !REPLICA_WRITES.some((pattern) => pattern.test(w.path)));

/** The identity a replica logged when it became leader, if it did. */
const leaderIdentity = (product: Product): string | undefined =>
  product.logs().find((line) => line.msg === 'became leader')?.identity as string | undefined;

const show = (w: WriteWindow) =>
  `${w.method} ${w.path} [${w.start.toFixed(0)}, ${w.end.toFixed(0)}] ${w.status} rv=${w.resourceVersion ?? '-'}`;

let applied = 0;
async function applyNext(): Promise<void> {
  applied++;
  await mustApply(
    env.cp,
    configYaml({
      name: `stall-${applied}`,
      namespace: NS,
      position: applied,
      backends: [backend(`stall-${applied}`)],
    }),
    ['--request-timeout=20s'],
  );
}

/** The replica whose identity holds the Lease, as the API server says. */
async function holder(products: readonly Product[]): Promise<Product | undefined> {
  const lease = await getJson<{ spec: { holderIdentity?: string } }>(env.cp, LEASE);
  const identity = lease?.spec.holderIdentity;
  return identity ? products.find((p) => leaderIdentity(p) === identity) : undefined;
}

/**
 * No write of the old leader was in flight at the API server once the new
 * one began writing (not overlapping, not interleaved), and the API server
 * committed them in that order (resourceVersions are etcd revisions here).
 */
function assertHandedOver(
  what: string,
  from: { name: string; writes: WriteWindow[] },
  to: { name: string; writes: WriteWindow[] },
  since: number,
): void {
  assert.ok(from.writes.length > 0, `${from.name} wrote`);
  assert.ok(to.writes.length > 0, `${to.name} wrote`);
  const firstNew = to.writes.reduce((a, b) => (b.start < a.start ? b : a));
  const lastOld = from.writes.reduce((a, b) => (b.end > a.end ? b : a));
  const after = from.writes.filter((w) => w.start >= since).length;
  say(
    `${from.name} (old leader): ${from.writes.length} writes (${after} after the ${what} began), the last ended ` +
      `${((lastOld.end - since) / 1000).toFixed(2)} s after it; ${to.name}: ${to.writes.length} writes, ` +
      `the first began ${((firstNew.start - lastOld.end) / 1000).toFixed(2)} s after the old leader's last ended`,
  );
  const late = from.writes.filter((w) => w.end > firstNew.start);
  assert.deepEqual(
    late.map(show),
    [],
    `writes of the old leader ended after the new leader's first write began (${show(firstNew)})`,
  );
  const versions = (writes: WriteWindow[]) =>
    writes.flatMap((w) => (w.resourceVersion ? [BigInt(w.resourceVersion)] : []));
  const newestOld = versions(from.writes).reduce((a, b) => (b > a ? b : a), 0n);
  const oldestNew = versions(to.writes).reduce((a, b) => (b < a ? b : a));
  assert.ok(
    newestOld < oldestNew,
    `the old leader's newest resourceVersion ${newestOld} is not older than the new leader's oldest ${oldestNew}`,
  );
}

async function assertAllActive(label: string): Promise<void> {
  const report = await waitForInvariant(env.cp, label, { timeoutMs: 90_000 });
  assert.equal(report.configs, applied);
  assert.equal(report.active, applied, 'every config is Active');
}

test('a leader whose renewals stall stops writing before the standby starts, and nothing is lost', () =>
  withLogs(env, async ({ cp, products }) => {
    const leader = await waitFor(
      'a leader',
      async () => products.find((p) => leaderIdentity(p) !== undefined),
      60_000,
      100,
    );
    const index = products.indexOf(leader);
    const standby = products[1 - index]!;
    const [oldProxy, newProxy] = [proxies[index]!, proxies[1 - index]!];

    for (let i = 0; i < 3; i++) await applyNext();
    await waitForInvariant(cp, 'before the stall', { timeoutMs: 60_000 });
    assert.ok(leaderWrites(oldProxy).length > 0, 'the leader wrote');
    assert.equal(leaderWrites(newProxy).length, 0, 'the standby wrote nothing');

    const stalledAt = performance.now();
    oldProxy.stallLease();
    say(`stalled ${leader.name}'s Lease requests; configs keep coming`);
    try {
      // Until the standby leads and has written, then a few more.
      await waitFor(
        'the standby to take over and write',
        async () => {
          await applyNext();
          return leaderIdentity(standby) !== undefined && leaderWrites(newProxy).length > 0;
        },
        90_000,
        300,
      );
      for (let i = 0; i < 3; i++) {
        await applyNext();
        await sleep(300);
      }
    } finally {
      oldProxy.release();
    }
    say(`released the stall after ${((performance.now() - stalledAt) / 1000).toFixed(1)} s`);
    assert.ok(oldProxy.heldLeaseRequests() > 0, 'the old leader tried to renew and was held');

    await assertAllActive('after the stall');
    assert.equal(await holder(products), standby, 'the standby holds the Lease');
    assertHandedOver(
      'stall',
      { name: leader.name, writes: leaderWrites(oldProxy) },
      { name: standby.name, writes: leaderWrites(newProxy) },
      stalledAt,
    );
  }));

// Fault: the leader is stopped (SIGTERM, a rolling update) while its writes
// are slow (each waits 600 ms on the way, within the write bound). It hands
// the Lease over, and a standby takes a released Lease at its next retry:
// the handover must wait for the writes it had sent.
test('a leader stopped while its writes are slow releases the Lease only after they ended', () =>
  withLogs(env, async ({ products }) => {
    const leader = await waitFor('the Lease holder', () => holder(products), 30_000, 200);
    const index = products.indexOf(leader);
    const standby = products[1 - index]!;
    const [oldProxy, newProxy] = [proxies[index]!, proxies[1 - index]!];
    const since = performance.now();
    oldProxy.slowWrites(600);
    // Stopped once a write is on its way.
    await waitFor(
      `a write of ${leader.name} in flight`,
      async () => {
        if (oldProxy.writesInFlight() > 0) return true;
        await applyNext();
        return oldProxy.writesInFlight() > 0;
      },
      60_000,
      20,
    );
    const stopped = leader.stop();
    say(
      `stopped ${leader.name} with ${oldProxy.writesInFlight()} writes in flight; configs keep coming`,
    );
    const newWrites = () => leaderWrites(newProxy).filter((w) => w.start >= since);
    await waitFor(
      `${standby.name} to take over and write`,
      async () => {
        await applyNext();
        return (await holder(products)) === standby && newWrites().length > 0;
      },
      90_000,
      200,
    );
    assert.equal(await stopped, 0, `${leader.name} exited cleanly`);
    await assertAllActive('after the handover');
    assertHandedOver(
      'stop',
      { name: leader.name, writes: leaderWrites(oldProxy).filter((w) => w.start >= since) },
      { name: standby.name, writes: newWrites() },
      since,
    );
  }));
