// End to end: two server processes with --leader-elect (Lease of 4 s, renew
// deadline 3 s, retry every 500 ms). Only the Lease holder writes; a leader
// killed with SIGKILL is replaced once its Lease has expired, never before;
// a leader stopped with SIGTERM releases the Lease, so the standby takes over
// at its next retry instead of waiting for the Lease to expire. Handover
// times are measured from the new leader's own log timestamps. No webhook is
// registered, so applies do not depend on which replica is up.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Product } from '../harness/product.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  api,
  configYaml,
  entryKey,
  mustApply,
  sleep,
  useEnv,
  waitFor,
  waitForSecretKeys,
  waitForStatus,
  withLogs,
} from './support.ts';

const LEASE_MS = 4000;
const LEASE_PATH =
  '/apis/coordination.k8s.io/v1/namespaces/harikube-system/leases/topology-webhook.harikube.info';
const ns = 'e2e-leader';
const target = 'harikube/e2e-leader';

const env = useEnv({
  webhooks: false,
  namespaces: [ns],
  productArgs: [ALLOW_HARIKUBE_TARGETS],
  products: [
    { name: 'replica-a', leaderElect: true },
    { name: 'replica-b', leaderElect: true },
  ],
});

interface LogLine {
  msg?: string;
  time?: string;
  identity?: string;
  target?: string;
}

/** The product's log lines from line `from` on; a line cut short by SIGKILL is skipped. */
function lines(product: Product, from = 0): LogLine[] {
  return product
    .logText()
    .split('\n')
    .slice(from)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}
const lineCount = (product: Product) => product.logText().split('\n').length - 1;

const WRITES = [
  'target Secret created',
  'target Secret updated',
  'backends removed from the Secret; finalizer released',
];
const writesOf = (product: Product, from = 0) =>
  lines(product, from).filter((l) => WRITES.includes(l.msg ?? ''));

function becameLeader(product: Product, from = 0): Promise<LogLine> {
  return waitFor(
    `${product.name} to become leader`,
    async () => lines(product, from).find((l) => l.msg === 'became leader'),
    30_000,
    50,
  );
}

interface Lease {
  spec: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number };
}
async function readLease(): Promise<Lease> {
  const response = await api<Lease>(env.cp, 'GET', LEASE_PATH);
  assert.equal(response.status, 200, 'the Lease exists');
  return response.body;
}

async function applyConfig(position: number): Promise<void> {
  const name = `leader-${position}`;
  await mustApply(
    env.cp,
    configYaml({
      name,
      namespace: ns,
      position,
      targetSecret: target,
      backends: [{ name, endpoint: `postgres://${name}.db:5432/kine` }],
    }),
  );
  await waitForStatus(env.cp, ns, name, 'Active');
}
const keysUpTo = (n: number) =>
  Array.from({ length: n }, (_, i) => entryKey(i + 1, ns, `leader-${i + 1}`));

/**
 * After a handover: the Lease names the new leader (`line`, its log line
 * from `from` on) with one transition more than `before`, and the new
 * leader writes config `position` into the Secret.
 */
async function newLeaderWrites(
  newLeader: Product,
  from: number,
  line: LogLine,
  before: Lease,
  position: number,
): Promise<void> {
  const lease = await readLease();
  assert.equal(lease.spec.holderIdentity, line.identity);
  assert.equal(lease.spec.leaseTransitions, (before.spec.leaseTransitions ?? 0) + 1);

  await applyConfig(position);
  await waitForSecretKeys(env.cp, 'harikube', 'e2e-leader', keysUpTo(position));
  assert.ok(
    writesOf(newLeader, from).some((l) => l.msg === 'target Secret updated'),
    'the new leader wrote the Secret',
  );
}

// Filled in by the tests, in order.
let leader: Product;
let standby: Product;

describe('reconciler, two replicas with leader election', () => {
  test('only the Lease holder writes', () =>
    withLogs(env, async () => {
      const [a, b] = env.products as [Product, Product];
      const first = await waitFor('a replica to become leader', async () => {
        for (const product of [a, b]) {
          const line = lines(product).find((l) => l.msg === 'became leader');
          if (line) return { product, line };
        }
        return undefined;
      });
      leader = first.product;
      standby = leader === a ? b : a;
      assert.equal((await readLease()).spec.holderIdentity, first.line.identity);

      for (const position of [1, 2, 3]) await applyConfig(position);
      await waitForSecretKeys(env.cp, 'harikube', 'e2e-leader', keysUpTo(3));

      const leaderWrites = writesOf(leader).filter((l) => l.target === target);
      assert.ok(leaderWrites.length >= 1, 'the leader wrote the Secret');
      assert.equal(leaderWrites[0]!.msg, 'target Secret created');
      assert.deepEqual(writesOf(standby), [], 'the standby wrote nothing');
      assert.equal(
        lines(standby).filter((l) => l.msg === 'became leader').length,
        0,
        'the standby never led',
      );
      assert.equal((await readLease()).spec.holderIdentity, first.line.identity);
    }));

  test('killing the leader (SIGKILL) hands over once its Lease has expired, and the new leader writes', () =>
    withLogs(env, async () => {
      const from = lineCount(standby);
      const before = await readLease();
      const lastRenewSeen = Date.parse(before.spec.renewTime!);
      const killedAt = Date.now();
      await leader.kill();

      const line = await becameLeader(standby, from);
      const tookOverAt = Date.parse(line.time!);
      const handoverMs = tookOverAt - killedAt;
      console.log(
        `# leader handover after SIGKILL: ${handoverMs} ms (lease ${LEASE_MS} ms, retry 500 ms)`,
      );
      // Never before the Lease could have expired: the dead leader may have
      // renewed once more after we read it, but not less recently.
      assert.ok(
        tookOverAt >= lastRenewSeen + LEASE_MS,
        `took over ${tookOverAt - lastRenewSeen} ms after a renewal, within the lease duration`,
      );
      assert.ok(handoverMs <= LEASE_MS + 3000, `handover took ${handoverMs} ms`);
      await newLeaderWrites(standby, from, line, before, 4);
      [leader, standby] = [standby, leader];
    }));

  test('stopping the leader (SIGTERM) releases the Lease, so the standby takes over before it would expire', () =>
    withLogs(env, async () => {
      // The killed replica comes back as the standby.
      const restartedFrom = lineCount(standby);
      await standby.restart();
      await sleep(1500); // a few retry periods, so that it campaigns
      assert.equal(
        lines(standby, restartedFrom).filter((l) => l.msg === 'became leader').length,
        0,
        'a replica that comes back does not take a held Lease',
      );

      const from = lineCount(standby);
      const leaderFrom = lineCount(leader);
      const before = await readLease();
      const lastRenewSeen = Date.parse(before.spec.renewTime!);
      const stoppedAt = Date.now();
      const code = await leader.stop();
      assert.equal(code, 0, 'the leader exits cleanly on SIGTERM');
      assert.ok(
        lines(leader, leaderFrom).some((l) => l.msg === 'lease released'),
        'the leader released the Lease',
      );

      const line = await becameLeader(standby, from);
      const tookOverAt = Date.parse(line.time!);
      console.log(
        `# leader handover after SIGTERM: ${tookOverAt - stoppedAt} ms (lease ${LEASE_MS} ms, retry 500 ms)`,
      );
      // Before the Lease could have expired: only the release explains it.
      assert.ok(
        tookOverAt < lastRenewSeen + LEASE_MS,
        `took over ${tookOverAt - lastRenewSeen} ms after the last renewal seen`,
      );
      // Released (no transition), then taken (one).
      await newLeaderWrites(standby, from, line, before, 5);
    }));
});
