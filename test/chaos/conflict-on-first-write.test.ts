// Fault: the API server answers 409 Conflict to the first attempt of every
// write (each POST, PUT and PATCH, keyed by method and path), through a
// fault-injecting proxy in front of the real kube-apiserver (see
// conflict-proxy.ts; it is not a mock). The server must treat a conflict as
// "read again and retry": with leader election on, it still takes the Lease,
// creates and updates the target Secret, sets finalizers and statuses, and
// converges to the same Secret and statuses as without the fault.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  configPath,
  configYaml,
  mustDeleteConfig,
  OVERRIDE,
  useEnv,
  withLogs,
} from '../e2e/support.ts';
import { startConflictProxy, type ConflictProxy } from './conflict-proxy.ts';
import { applyUntilAccepted, backend, say, waitForInvariant } from './support.ts';

const NS = 'chaos-409';
const COUNT = 8;

let proxy: ConflictProxy | undefined;
const env = useEnv({
  namespaces: [NS],
  products: async (cp) => {
    proxy = await startConflictProxy(cp);
    return [{ kubeconfigPath: proxy.kubeconfigPath, leaderElect: true }];
  },
});
after(async () => {
  await proxy?.close();
});

const manifest = (i: number, generation = 1) =>
  configYaml({
    name: `cfg-${i}`,
    namespace: NS,
    position: i,
    annotations: OVERRIDE,
    backends: Array.from({ length: generation }, (_, g) => backend(`conflict-${i}-${g}`)),
  });

/** The kind of write a path is, for the report. */
function kindOf(key: string): string {
  if (key.endsWith('/status')) return 'config status';
  if (key.includes('/topologyconfigs/')) return 'config finalizer';
  if (key.includes('/secrets')) return 'target Secret';
  if (key.includes('/events')) return 'event';
  if (key.includes('/leases')) return 'Lease';
  if (key.includes('webhookconfigurations')) return 'webhook caBundle';
  return key;
}

test('409 Conflict on the first attempt of every write: the server retries and converges', () =>
  withLogs(env, async ({ cp, product }) => {
    for (let i = 1; i <= COUNT; i++) await applyUntilAccepted(cp, manifest(i));
    for (const i of [2, 5]) await applyUntilAccepted(cp, manifest(i, 2));
    await mustDeleteConfig(cp, NS, 'cfg-7', '--timeout=60s');
    say(
      `injected: ${COUNT} creates, 2 updates and 1 delete, with the server behind a proxy that answers 409 to the first attempt of each write`,
    );

    const report = await waitForInvariant(cp, 'every write refused once', {
      gone: [`${NS}/cfg-7`],
    });
    assert.equal(report.active, COUNT - 1);

    const { injected, forwarded } = proxy!;
    const byKind = new Map<string, number>();
    for (const [key, n] of injected) byKind.set(kindOf(key), (byKind.get(kindOf(key)) ?? 0) + n);
    const total = [...injected.values()].reduce((a, b) => a + b, 0);
    say(
      `injected: ${total} × 409 Conflict in all (${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
        `forwarded to the API server: ${[...forwarded].map(([m, n]) => `${m} ${n}`).join(', ')}`,
    );

    for (const key of injected.keys()) say(`  409 on the first ${key}`);
    const dropped = product.logs().filter((line) => line.msg === 'event not recorded').length;
    say(
      `observed: ${dropped} Event(s) not recorded (Events are best effort, retried once; not part of the invariant)`,
    );

    // Each kind of write the reconciler makes was refused once and retried.
    assert.equal(injected.get('POST /api/v1/namespaces/harikube/secrets'), 1, 'the Secret create');
    assert.equal(
      injected.get('PUT /api/v1/namespaces/harikube/secrets/topology-config'),
      1,
      'a Secret update',
    );
    assert.equal(
      injected.get(`POST /apis/coordination.k8s.io/v1/namespaces/harikube-system/leases`),
      1,
      'the Lease create',
    );
    // (The mutating webhook adds the finalizer; the reconciler only releases it.)
    assert.equal(injected.get(`PATCH ${configPath(NS, 'cfg-7')}`), 1, "cfg-7's finalizer release");
    for (let i = 1; i <= COUNT; i++) {
      assert.equal(
        injected.get(`PATCH ${configPath(NS, `cfg-${i}`)}/status`),
        1,
        `cfg-${i}'s status`,
      );
    }
    assert.ok(
      product.logs().some((line) => line.msg === 'became leader'),
      'the server took the Lease despite the conflict',
    );
    say(
      `checked: the Lease, the Secret's create and update, every config's status and the finalizer release were each refused once, retried, and the invariant holds`,
    );
  }));
