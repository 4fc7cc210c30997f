// The merge's invariant: an entry leaves the Secret only when its config is
// deleted (or changed under an authorised override), and the config whose
// entry the Secret holds (the incumbent, by uid) wins conflicts. Each path
// the issue found is here: a key-Secret failure after an allowed edit, a
// policy change, a clash with a newer config of another target, a size
// overflow, a stale cache, a config deleted and created again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import {
  entriesAnnotation,
  writtenEntriesOf,
  type WrittenEntry,
} from '../../../src/reconcile/incumbents.ts';
import { mergeAll, mergeTarget, type MergeState } from '../../../src/reconcile/merge.ts';
import { bindGrants } from '../../../src/rules/tenancy.ts';
import { renderEntry, secretKeyFor } from '../../../src/secret-format/entry.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { backend, config, policy, TARGET, type ConfigOptions } from '../rules/fixtures.ts';

const key = Buffer.alloc(32, 7);
const endpoint = 'mysql://app:pw@tcp(db:3306)/kine';
const keysGone: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };
const keysHere: KeyLookup = {
  keysOf: () => ({ found: true, labeled: true, keys: [{ name: 'k', key }] }),
};
const noKeys = keysGone;

/** A config as the API server holds it: with a uid and a generation. */
function stored(options: ConfigOptions & { uid?: string; generation?: number }): TopologyConfig {
  const c = config(options);
  c.metadata.uid = options.uid ?? `uid-${c.metadata.name}`;
  c.metadata.generation = options.generation ?? 1;
  return c;
}

/** The Secret as the reconciler last wrote it for these configs (their entries, their owners). */
function writtenFor(
  entries: ReadonlyArray<{ config: TopologyConfig; endpoints?: string[] }>,
  target = TARGET,
): MergeState {
  const secret = new Map<string, WrittenEntry>();
  for (const { config: c, endpoints } of entries) {
    secret.set(secretKeyFor(c), {
      value: renderEntry(c, endpoints ?? c.spec.backends.map((b) => b.endpoint)),
      uid: c.metadata.uid!,
      generation: c.metadata.generation!,
    });
  }
  return { written: new Map([[target, secret]]) };
}

const sealed = (extra: { generation?: number; maxOpen?: number } = {}) =>
  stored({
    name: 'orders',
    position: 1,
    decryptSecret: 'team-a/keys',
    generation: extra.generation ?? 1,
    backends: [
      backend('orders-db', {
        endpoint: encryptEndpoint(key, endpoint),
        ...(extra.maxOpen ? { connectionPool: { maxOpen: extra.maxOpen } } : {}),
      }),
    ],
  });

test('a newcomer that cannot be decrypted is not merged and reports Error', () => {
  const result = mergeTarget(TARGET, [sealed()], keysGone, policy);
  assert.deepEqual(result.data, {});
  assert.equal(result.outcomes.get('team-a/orders')?.state, 'Error');
});

test('an incumbent whose key Secret is gone keeps its entry, reported as Error saying what is kept and why', () => {
  const state = writtenFor([{ config: sealed(), endpoints: [endpoint] }]);
  const result = mergeTarget(TARGET, [sealed()], keysGone, policy, state);
  const entryKey = '0000000001-team-a.orders.yaml';
  assert.deepEqual(Object.keys(result.data), [entryKey]);
  assert.match(result.data[entryKey]!, /endpoint: mysql:\/\/app:pw@tcp\(db:3306\)\/kine/);
  const outcome = result.outcomes.get('team-a/orders')!;
  assert.equal(outcome.state, 'Error');
  assert.equal(outcome.kept, true);
  assert.match(
    outcome.reason,
    /^spec\.endpointDecryptSecret: Secret team-a\/keys not found .*; the entry written for generation 1 stays in harikube\/topology-config as 0000000001-team-a\.orders\.yaml so that data written through its routes remains reachable: fix this, or delete the config to remove the entry$/,
  );
  assert.ok(!outcome.reason.includes('app:pw'));
  // The owner stays the same config at the same generation.
  assert.deepEqual(result.owners.get(entryKey), { uid: 'uid-orders', generation: 1 });
});

test('an allowed edit (a pool size) followed by the loss of its key keeps the entry of the earlier generation', () => {
  // Written at generation 1; edited to generation 2 before the reconciler merged it; then the key went.
  const state = writtenFor([{ config: sealed(), endpoints: [endpoint] }]);
  const edited = sealed({ generation: 2, maxOpen: 50 });
  const result = mergeTarget(TARGET, [edited], keysGone, policy, state);
  assert.deepEqual(Object.keys(result.data), ['0000000001-team-a.orders.yaml']);
  assert.doesNotMatch(result.data['0000000001-team-a.orders.yaml']!, /maxOpen/);
  const outcome = result.outcomes.get('team-a/orders')!;
  assert.equal(outcome.kept, true);
  assert.match(outcome.reason, /the entry written for generation 1 stays/);
  // With the key back, generation 2 replaces it.
  const restored = mergeTarget(TARGET, [edited], keysHere, policy, state);
  assert.equal(restored.outcomes.get('team-a/orders')?.state, 'Active');
  assert.match(restored.data['0000000001-team-a.orders.yaml']!, /maxOpen: 50/);
  assert.deepEqual(restored.owners.get('0000000001-team-a.orders.yaml'), {
    uid: 'uid-orders',
    generation: 2,
  });
});

test('turning --allow-cross-namespace-decrypt-secret off keeps the entries that already use another namespace', () => {
  const c = stored({
    name: 'orders',
    decryptSecret: 'platform/keys',
    backends: [backend('orders-db', { endpoint: encryptEndpoint(key, endpoint) })],
  });
  const open = { ...policy, allowCrossNamespaceDecryptSecret: true };
  const first = mergeTarget(TARGET, [c], keysHere, open);
  assert.equal(first.outcomes.get('team-a/orders')?.state, 'Active');
  const state = writtenFor([{ config: c, endpoints: [endpoint] }]);
  const closed = { ...policy, allowCrossNamespaceDecryptSecret: false };
  const result = mergeTarget(TARGET, [c], keysHere, closed, state);
  assert.deepEqual(result.data, first.data);
  const outcome = result.outcomes.get('team-a/orders')!;
  assert.equal(outcome.state, 'Error');
  assert.equal(outcome.kept, true);
  assert.match(
    outcome.reason,
    /^spec\.endpointDecryptSecret: .*; the entry written for generation 1 stays/,
  );
});

test('the incumbent wins a conflict against a newcomer at a lower position', () => {
  const incumbent = stored({ name: 'orders', position: 5, backends: [backend('orders-db')] });
  const newcomer = stored({
    name: 'first',
    position: 1,
    created: '2020-01-01T00:00:00Z',
    backends: [backend('orders-db', { prefix: { prefix: '/registry/other/' } })],
  });
  const state = writtenFor([{ config: incumbent }]);
  const result = mergeTarget(TARGET, [newcomer, incumbent], noKeys, policy, state);
  assert.deepEqual(Object.keys(result.data), ['0000000005-team-a.orders.yaml']);
  assert.equal(result.outcomes.get('team-a/orders')?.state, 'Active');
  const lost = result.outcomes.get('team-a/first')!;
  assert.equal(lost.state, 'Error');
  assert.equal(lost.kept, undefined);
  assert.match(
    lost.reason,
    /^conflicts with team-a\/orders, whose entry harikube\/topology-config already holds \(the config already in the Secret wins\): spec\.backends\[0\]\.name: "orders-db" is already used by team-a\/orders/,
  );
  // Without the written entry, position decides: the newcomer order.
  const fresh = mergeTarget(TARGET, [newcomer, incumbent], noKeys, policy);
  assert.deepEqual(Object.keys(fresh.data), ['0000000001-team-a.first.yaml']);
});

test('a newer config at position 1 of another target Secret does not take an incumbent backend name', () => {
  const incumbent = stored({ name: 'orders', position: 7, backends: [backend('orders-db')] });
  const other = stored({
    name: 'copycat',
    position: 1,
    target: 'shared/routes',
    created: '2025-01-01T00:00:00Z',
    backends: [backend('orders-db', { prefix: { prefix: '/registry/copy/' } })],
  });
  const results = mergeAll([other, incumbent], noKeys, policy, writtenFor([{ config: incumbent }]));
  assert.deepEqual(Object.keys(results.get(TARGET)!.data), ['0000000007-team-a.orders.yaml']);
  assert.equal(results.get(TARGET)!.outcomes.get('team-a/orders')?.state, 'Active');
  assert.deepEqual(results.get('shared/routes')!.data, {});
  assert.match(
    results.get('shared/routes')!.outcomes.get('team-a/copycat')!.reason,
    /conflicts with team-a\/orders, whose entry harikube\/topology-config already holds/,
  );
});

test('between newcomers of different targets a shared backend name goes to the older config, whatever the positions', () => {
  const older = stored({
    name: 'older',
    position: 9,
    created: '2024-01-01T00:00:00Z',
    backends: [backend('shared-db')],
  });
  const newer = stored({
    name: 'newer',
    position: 1,
    target: 'shared/routes',
    created: '2024-06-01T00:00:00Z',
    backends: [backend('shared-db', { prefix: { prefix: '/registry/x/' } })],
  });
  for (const order of [
    [older, newer],
    [newer, older],
  ]) {
    const results = mergeAll(order, noKeys, policy);
    assert.equal(results.get(TARGET)!.outcomes.get('team-a/older')?.state, 'Active');
    assert.match(
      results.get('shared/routes')!.outcomes.get('team-a/newer')!.reason,
      /^spec\.backends\[0\]\.name: "shared-db" is also claimed by team-a\/older in target harikube\/topology-config, which wins: between target Secrets the older config wins/,
    );
  }
});

test('an incumbent whose change would overflow the size limit keeps its written entry; a newcomer that would is refused', () => {
  const small = stored({ name: 'orders', backends: [backend('orders-db')] });
  const state = writtenFor([{ config: small }]);
  const grown = stored({
    name: 'orders',
    generation: 2,
    backends: [
      backend('orders-db'),
      backend('orders-db-2', {
        regexp: { prefix: '^/registry/x', key: `^/registry/${'y'.repeat(400)}` },
      }),
    ],
  });
  const tight = { ...policy, maxSecretBytes: 400 };
  const result = mergeTarget(TARGET, [grown], noKeys, tight, state);
  assert.deepEqual(result.data, {
    [secretKeyFor(small)]: renderEntry(small, ['mysql://user:pass@tcp(db:3306)/orders-db']),
  });
  const outcome = result.outcomes.get('team-a/orders')!;
  assert.equal(outcome.kept, true);
  assert.match(
    outcome.reason,
    /^spec\.backends: the merged Secret harikube\/topology-config would hold \d+ bytes of data, over the limit of 400/,
  );
  const newcomer = stored({
    name: 'late',
    position: 2,
    backends: [backend('late-db', { prefix: { prefix: `/${'z'.repeat(300)}` } })],
  });
  const both = mergeTarget(TARGET, [small, newcomer], noKeys, tight, state);
  assert.equal(both.outcomes.get('team-a/orders')?.state, 'Active');
  assert.match(both.outcomes.get('team-a/late')!.reason, /over the limit of 400/);
});

test('an incumbent change that conflicts with another incumbent keeps its entry; the other stays Active', () => {
  const a = stored({ name: 'a', position: 1, backends: [backend('a-db')] });
  const b = stored({ name: 'b', position: 2, backends: [backend('b-db')] });
  const state: MergeState = {
    written: writtenFor([{ config: a }, { config: b }]).written!,
  };
  // b appends a backend named like a's (allowed by the append-only rules, refused as a conflict).
  const b2 = stored({
    name: 'b',
    position: 2,
    generation: 2,
    backends: [backend('b-db'), backend('a-db', { prefix: { prefix: '/registry/other/' } })],
  });
  const result = mergeTarget(TARGET, [b2, a], noKeys, policy, state);
  assert.deepEqual(Object.keys(result.data), [
    '0000000001-team-a.a.yaml',
    '0000000002-team-a.b.yaml',
  ]);
  assert.equal(result.outcomes.get('team-a/a')?.state, 'Active');
  const kept = result.outcomes.get('team-a/b')!;
  assert.equal(kept.kept, true);
  assert.match(
    kept.reason,
    /^conflicts with team-a\/a, whose entry harikube\/topology-config already holds/,
  );
  assert.doesNotMatch(result.data['0000000002-team-a.b.yaml']!, /a-db/);
});

test('a config deleted and created again under the same name is a newcomer, not the incumbent', () => {
  const before = stored({
    name: 'orders',
    uid: 'first-life',
    position: 5,
    backends: [backend('orders-db')],
  });
  const other = stored({
    name: 'other',
    position: 1,
    backends: [backend('orders-db', { prefix: { prefix: '/registry/o/' } })],
  });
  const again = stored({
    name: 'orders',
    uid: 'second-life',
    position: 5,
    created: '2026-01-01T00:00:00Z',
    backends: [backend('orders-db')],
  });
  // `other` is the incumbent now (written in another reconcile after the first life was deleted).
  const state = writtenFor([{ config: before }, { config: other }]);
  const result = mergeTarget(TARGET, [again, other], noKeys, policy, state);
  assert.deepEqual(Object.keys(result.data), ['0000000001-team-a.other.yaml']);
  assert.match(
    result.outcomes.get('team-a/orders')!.reason,
    /^conflicts with team-a\/other, whose entry/,
  );
  assert.equal(result.outcomes.get('team-a/orders')!.kept, undefined);
});

test('an entry leaves when its config is being deleted', () => {
  const c = stored({ name: 'orders', deleting: true });
  const result = mergeTarget(TARGET, [c], noKeys, policy, writtenFor([{ config: c }]));
  assert.deepEqual(result.data, {});
  assert.equal(result.outcomes.size, 0);
});

test('a stale cache (an older generation than the one written) keeps the written entry', () => {
  const now = stored({
    name: 'orders',
    generation: 3,
    backends: [backend('orders-db', { connectionPool: { maxOpen: 3 } })],
  });
  const cached = stored({ name: 'orders', generation: 2 });
  const result = mergeTarget(TARGET, [cached], noKeys, policy, writtenFor([{ config: now }]));
  assert.match(result.data[secretKeyFor(now)]!, /maxOpen: 3/);
  assert.match(
    result.outcomes.get('team-a/orders')!.reason,
    /^the reconciler's cache holds generation 2, older than the one written; the entry written for generation 3 stays/,
  );
});

test('an unsafe change that bypassed the webhook keeps the entry unless authorised', () => {
  const c = stored({ name: 'orders', backends: [backend('orders-db'), backend('orders-db-2')] });
  const state = writtenFor([{ config: c }]);
  const shrunk = stored({ name: 'orders', generation: 2, backends: [backend('orders-db')] });
  const refused = mergeTarget(TARGET, [shrunk], noKeys, policy, {
    ...state,
    authorised: () => false,
  });
  assert.match(refused.data[secretKeyFor(c)]!, /orders-db-2/);
  assert.match(
    refused.outcomes.get('team-a/orders')!.reason,
    /^spec\.backends: backend "orders-db-2" \(spec\.backends\[1\]\) was removed; .*; the entry written for generation 1 stays/,
  );
  // The annotation alone authorises nothing when the caller says no.
  shrunk.metadata.annotations = { 'harikube.info/allow-unsafe-routing-change': 'true' };
  const stillRefused = mergeTarget(TARGET, [shrunk], noKeys, policy, {
    ...state,
    authorised: () => false,
  });
  assert.equal(stillRefused.outcomes.get('team-a/orders')?.kept, true);
  const allowed = mergeTarget(TARGET, [shrunk], noKeys, policy, {
    ...state,
    authorised: () => true,
  });
  assert.equal(allowed.outcomes.get('team-a/orders')?.state, 'Active');
  assert.doesNotMatch(allowed.data[secretKeyFor(c)]!, /orders-db-2/);
});

test('the same configs and written entries in any order give the same data and outcomes', () => {
  const a = stored({ name: 'a', position: 3, backends: [backend('x-db')] });
  const b = stored({
    name: 'b',
    position: 1,
    backends: [backend('x-db', { prefix: { prefix: '/registry/b/' } })],
  });
  const c = stored({ name: 'c', position: 2, backends: [backend('c-db')] });
  const state = writtenFor([{ config: a }]);
  const snapshot = (configs: TopologyConfig[]) => {
    const r = mergeTarget(TARGET, configs, noKeys, policy, state);
    return JSON.stringify([r.data, [...r.owners].sort(), [...r.outcomes].sort()]);
  };
  assert.equal(snapshot([a, b, c]), snapshot([c, b, a]));
  assert.equal(snapshot([b, a, c]), snapshot([a, c, b]));
});

test('written entries: the annotation names the owners; without it, the config that reports the entry live owns it', () => {
  const active = stored({ name: 'orders', generation: 4 });
  active.status = { deployStatus: 'Active', observedGeneration: 3 };
  const pending = stored({ name: 'pending', position: 2 });
  const data = {
    [secretKeyFor(active)]: 'backends: []\n',
    [secretKeyFor(pending)]: 'backends: []\n',
    '0000000009-team-a.gone.yaml': 'backends: []\n',
  };
  const annotation = entriesAnnotation(
    new Map([['0000000009-team-a.gone.yaml', { uid: 'u-gone', generation: 2 }]]),
  );
  const entries = writtenEntriesOf(data, annotation, [active, pending]);
  assert.deepEqual(
    [...entries].map(([k, e]) => [k, e.uid, e.generation]),
    [
      ['0000000001-team-a.orders.yaml', 'uid-orders', 3],
      ['0000000009-team-a.gone.yaml', 'u-gone', 2],
    ],
  );
  // A damaged annotation falls back the same way.
  assert.equal(
    writtenEntriesOf(data, '{not json', [active]).get(secretKeyFor(active))?.uid,
    'uid-orders',
  );
});

test('a newcomer the caller found would strand existing objects is not merged; an incumbent is never blocked', () => {
  const incumbent = stored({ name: 'orders', position: 1, backends: [backend('orders-db')] });
  const newcomer = stored({ name: 'late', position: 2, backends: [backend('late-db')] });
  const blocked = new Map([
    ['team-a/late', 'spec.backends[0].prefix: the cluster already holds 2 pods'],
    ['team-a/orders', 'ignored: its entry is already in the Secret'],
  ]);
  const result = mergeTarget(TARGET, [incumbent, newcomer], noKeys, policy, {
    ...writtenFor([{ config: incumbent }]),
    blocked,
  });
  assert.deepEqual(Object.keys(result.data), ['0000000001-team-a.orders.yaml']);
  assert.equal(result.outcomes.get('team-a/orders')?.state, 'Active');
  assert.deepEqual(result.outcomes.get('team-a/late'), {
    state: 'Error',
    reason: 'spec.backends[0].prefix: the cluster already holds 2 pods',
    cause: 'ExistingData',
  });
});

// The tenant routing policy, checked again here (the webhook can be bypassed).
const noGrants = { ...policy, tenancy: bindGrants([], ['harikube']) };

test('a config the routing policy refuses is in Error and not merged', () => {
  const tenant = stored({ name: 'orders', position: 1, backends: [backend('orders-db')] });
  const result = mergeTarget(TARGET, [tenant], noKeys, noGrants);
  assert.deepEqual(result.data, {});
  assert.match(
    result.outcomes.get('team-a/orders')!.reason,
    /team-a is a tenant namespace that may route nothing/,
  );
});

test('a grant that shrinks keeps the entry already written: Error, kept, same data', () => {
  const tenant = stored({ name: 'orders', position: 1, backends: [backend('orders-db')] });
  const state = writtenFor([{ config: tenant }]);
  const before = mergeTarget(TARGET, [tenant], noKeys, policy, state);
  const after = mergeTarget(TARGET, [tenant], noKeys, noGrants, state);
  assert.deepEqual(after.data, before.data);
  const outcome = after.outcomes.get('team-a/orders')!;
  assert.equal(outcome.state, 'Error');
  assert.equal(outcome.kept, true);
  assert.match(outcome.reason, /may route nothing.*stays in harikube\/topology-config/);
});
