import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import type { MergeResult } from '../../../src/reconcile/merge.ts';
import { ownerBytes } from '../../../src/reconcile/incumbents.ts';
import { mergeAll, mergeTarget } from '../../../src/reconcile/merge.ts';
import type { NamespacedName } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { assertNoSecret, backend, config, policy, TARGET } from '../rules/fixtures.ts';

const noKeys: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };
const merge = (configs: TopologyConfig[], p = policy) => mergeTarget(TARGET, configs, noKeys, p);
const outcome = (r: MergeResult, key: string) => r.outcomes.get(key);

describe('merge', () => {
  test('one key per config, in position order, 2 before 10', () => {
    const r = merge([
      config({ name: 'ten', position: 10, backends: [backend('ten-db')] }),
      config({ name: 'two', position: 2, backends: [backend('two-db')] }),
    ]);
    assert.deepEqual(Object.keys(r.data), [
      '0000000002-team-a.two.yaml',
      '0000000010-team-a.ten.yaml',
    ]);
    assert.match(r.data['0000000002-team-a.two.yaml']!, /^backends:\n- name: two-db\n/);
    assert.deepEqual(outcome(r, 'team-a/two'), {
      state: 'Active',
      reason: `merged into ${TARGET} as 0000000002-team-a.two.yaml`,
      cause: 'Active',
      key: '0000000002-team-a.two.yaml',
    });
  });

  test('the same name in two namespaces gives two keys', () => {
    const r = merge([
      config({ namespace: 'team-a', name: 'orders', position: 1, backends: [backend('a-db')] }),
      config({ namespace: 'team-b', name: 'orders', position: 2, backends: [backend('b-db')] }),
    ]);
    assert.deepEqual(Object.keys(r.data), [
      '0000000001-team-a.orders.yaml',
      '0000000002-team-b.orders.yaml',
    ]);
  });

  test('durations are written as Go duration strings', () => {
    const r = merge([
      config({
        backends: [
          backend('a', {
            connectionPool: { maxLifeTime: 1_500_000_000, maxIdleLifeTime: 300_000_000_000 },
          }),
        ],
      }),
    ]);
    assert.match(Object.values(r.data)[0]!, /maxLifeTime: 1\.5s\n {4}maxIdleLifeTime: 5m0s\n/);
  });

  test('a conflicting config loses to the lower position, and its reason names the winner', () => {
    const winner = config({
      namespace: 'team-a',
      name: 'orders',
      position: 3,
      backends: [backend('shared-db')],
    });
    const loser = config({
      namespace: 'team-b',
      name: 'cart',
      position: 4,
      backends: [
        backend('shared-db', { endpoint: 'mysql://other', prefix: { prefix: '/other/' } }),
      ],
    });
    const r = merge([loser, winner]);
    assert.deepEqual(Object.keys(r.data), ['0000000003-team-a.orders.yaml']);
    assert.deepEqual(outcome(r, 'team-b/cart'), {
      state: 'Error',
      reason:
        'conflicts with team-a/orders, which comes first (lower position, then older, then namespace/name): spec.backends[0].name: "shared-db" is already used by team-a/orders (position 3)',
      cause: 'Conflict',
    });
  });

  test('at the same position the older config wins, then namespace/name', () => {
    const older = config({
      namespace: 'z',
      name: 'old',
      position: 1,
      created: '2024-01-01T00:00:00Z',
      backends: [backend('x-db')],
    });
    const newer = config({
      namespace: 'a',
      name: 'new',
      position: 1,
      created: '2024-02-01T00:00:00Z',
      backends: [backend('y-db')],
    });
    assert.equal(outcome(merge([newer, older]), 'z/old')?.state, 'Active');
    assert.match(
      outcome(merge([newer, older]), 'a/new')!.reason,
      /^conflicts with z\/old.*spec\.position: 1 is already taken by z\/old/,
    );
    const twin = config({
      namespace: 'a',
      name: 'twin',
      position: 1,
      created: '2024-01-01T00:00:00Z',
      backends: [backend('w-db')],
    });
    assert.equal(outcome(merge([older, twin]), 'a/twin')?.state, 'Active');
    assert.equal(outcome(merge([older, twin]), 'z/old')?.state, 'Error');
  });

  test('a loser that conflicts only with another loser is accepted', () => {
    const a = config({ name: 'a', position: 1, backends: [backend('n1')] });
    const b = config({
      name: 'b',
      position: 2,
      backends: [
        backend('n1', { endpoint: 'mysql://e2' }),
        backend('n2', { endpoint: 'mysql://e3' }),
      ],
    });
    const c = config({
      name: 'c',
      position: 3,
      backends: [backend('n2', { endpoint: 'mysql://e4', prefix: { prefix: '/c/' } })],
    });
    const r = merge([c, b, a]);
    assert.deepEqual([...r.outcomes.entries()].map(([k, o]) => `${k} ${o.state}`).sort(), [
      'team-a/a Active',
      'team-a/b Error',
      'team-a/c Active',
    ]);
  });

  test('configs being deleted are left out, and free their names', () => {
    const going = config({
      name: 'going',
      position: 1,
      deleting: true,
      backends: [backend('x-db')],
    });
    const next = config({ name: 'next', position: 2, backends: [backend('x-db')] });
    const r = merge([going, next]);
    assert.deepEqual(Object.keys(r.data), ['0000000002-team-a.next.yaml']);
    assert.equal(r.outcomes.has('team-a/going'), false);
    assert.equal(outcome(r, 'team-a/next')?.state, 'Active');
  });

  test('a config that bypassed the webhook still gets its static errors', () => {
    const bad = config({
      name: 'bad',
      position: 1,
      backends: [backend('Bad_Name', { prefix: { prefix: 'no slash' } })],
    });
    const r = merge([bad]);
    assert.deepEqual(r.data, {});
    assert.equal(outcome(r, 'team-a/bad')?.state, 'Error');
    assert.match(
      outcome(r, 'team-a/bad')!.reason,
      /^spec\.backends\[0\]\.name: "Bad_Name" must be a DNS-1123 subdomain.*; spec\.backends\[0\]\.prefix\.prefix: must not contain whitespace.*$/,
    );
  });

  test('a target the policy does not allow gets nothing and is marked as not writable', () => {
    const c = config({ target: 'kube-system/secret', backends: [backend('a')] });
    const r = mergeTarget('kube-system/secret', [c], noKeys, policy);
    assert.equal(r.targetAllowed, false);
    assert.deepEqual(r.data, {});
    assert.match(r.outcomes.get('team-a/orders')!.reason, /not allowed by the cluster policy/);
    assert.equal(merge([]).targetAllowed, true);
  });

  test('the configs that would push the Secret over the limit get Error; smaller later ones still fit', () => {
    const small = (name: string, position: number) =>
      config({ name, position, backends: [backend(`${name}-db`)] });
    const big = config({
      name: 'big',
      position: 2,
      backends: Array.from({ length: 20 }, (_, i) => backend(`big-${i}`)),
    });
    const one = merge([small('a', 1)]);
    // An entry's bytes: its key and YAML, and its owner in the incumbency annotation.
    const limit =
      Object.entries(one.data).reduce(
        (n, [k, v]) => n + k.length + v.length + ownerBytes(k, one.owners.get(k)!),
        0,
      ) *
        2 +
      10;
    const r = merge([small('a', 1), big, small('c', 3)], { ...policy, maxSecretBytes: limit });
    assert.deepEqual(Object.keys(r.data), ['0000000001-team-a.a.yaml', '0000000003-team-a.c.yaml']);
    assert.match(
      outcome(r, 'team-a/big')!.reason,
      new RegExp(
        `^spec\\.backends: the merged Secret ${TARGET} would hold \\d+ bytes of data, over the limit of ${limit}`,
      ),
    );
  });

  test('encrypted endpoints are decrypted into the Secret; failures are errors that leak nothing', () => {
    const key = Buffer.alloc(32, 3);
    const keys: KeyLookup = {
      keysOf: (ref: NamespacedName) =>
        ref.namespace === 'team-a' && ref.name === 'keys'
          ? { found: true, keys: [{ name: 'k1', key }] }
          : { found: false, keys: [] },
    };
    const plaintext = 'postgres://app:t0ps3cret@db:5432/orders';
    const good = config({
      name: 'good',
      decryptSecret: 'team-a/keys',
      backends: [backend('good-db', { endpoint: encryptEndpoint(key, plaintext) })],
    });
    const wrong = encryptEndpoint(Buffer.alloc(32, 4), 'mysql://x:hunter2@db/x');
    const bad = config({
      name: 'bad',
      position: 2,
      decryptSecret: 'team-a/keys',
      backends: [backend('bad-db', { endpoint: wrong })],
    });
    const r = mergeTarget(TARGET, [good, bad], keys, policy);
    assert.match(
      r.data['0000000001-team-a.good.yaml']!,
      /endpoint: postgres:\/\/app:t0ps3cret@db:5432\/orders\n/,
    );
    assert.equal(
      outcome(r, 'team-a/bad')?.reason,
      'spec.backends[0].endpoint: cannot be decrypted with the keys of Secret team-a/keys: no key of 1 opened it (tried: k1)',
    );
    assertNoSecret(
      [...r.outcomes.values()].map((o) => o.reason),
      ['t0ps3cret', 'hunter2', wrong, key.toString('base64')],
    );
  });

  test('backend names are resolved across targets', () => {
    const first = config({
      namespace: 'a',
      name: 'first',
      position: 1,
      target: TARGET,
      backends: [backend('same')],
    });
    const second = config({
      namespace: 'b',
      name: 'second',
      position: 5,
      target: 'shared/x',
      backends: [backend('same')],
    });
    const all = mergeAll([second, first], noKeys, policy);
    assert.equal(all.get(TARGET)!.outcomes.get('a/first')?.state, 'Active');
    assert.match(
      all.get('shared/x')!.outcomes.get('b/second')!.reason,
      /^spec\.backends\[0\]\.name: "same" is also claimed by a\/first in target harikube\/topology-config, which wins: between target Secrets the older config wins \(then namespace\/name\)/,
    );
    assert.deepEqual(all.get('shared/x')!.data, {});
  });

  test('works with the ConfigIndex as the key lookup', () => {
    assert.equal(
      mergeTarget(TARGET, [config()], new ConfigIndex(), policy).outcomes.get('team-a/orders')
        ?.state,
      'Active',
    );
  });
});

// ---- determinism ----

const configArb = fc
  .record({
    namespace: fc.constantFrom('a', 'b'),
    name: fc.constantFrom('x', 'y', 'z', 'w'),
    position: fc.integer({ min: 1, max: 5 }),
    created: fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z'),
    target: fc.constantFrom(TARGET, 'shared/x'),
    deleting: fc.boolean(),
    backends: fc.array(
      fc.record({
        name: fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'),
        endpoint: fc.constantFrom(
          'mysql://tcp(e1)/kine',
          'mysql://tcp(e2)/kine',
          'mysql://tcp(e3)/kine',
        ),
        prefix: fc.constantFrom('/a', '/b', '/c'),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  })
  .map((a) =>
    config({
      ...a,
      deleting: a.deleting,
      backends: a.backends.map((b) => ({
        name: b.name,
        endpoint: b.endpoint,
        prefix: { prefix: b.prefix },
      })),
    }),
  );

function unique(configs: TopologyConfig[]): TopologyConfig[] {
  return [
    ...new Map(configs.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c])).values(),
  ];
}

const snapshot = (m: Map<string, MergeResult>) =>
  JSON.stringify(
    [...m.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([t, r]) => [t, r.data, [...r.outcomes.entries()].sort(([a], [b]) => (a < b ? -1 : 1))]),
  );

describe('merge determinism', () => {
  test('the same set of configs in any order gives byte-identical data and outcomes', () => {
    fc.assert(
      fc.property(
        fc
          .array(configArb, { maxLength: 10 })
          .map(unique)
          .chain((configs) =>
            fc.tuple(
              fc.constant(configs),
              fc.shuffledSubarray(configs, {
                minLength: configs.length,
                maxLength: configs.length,
              }),
            ),
          ),
        ([configs, shuffled]) => {
          assert.equal(
            snapshot(mergeAll(shuffled, noKeys, policy)),
            snapshot(mergeAll(configs, noKeys, policy)),
          );
          const data = JSON.stringify(mergeTarget(TARGET, shuffled, noKeys, policy).data);
          assert.equal(data, JSON.stringify(mergeTarget(TARGET, configs, noKeys, policy).data));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('the accepted configs of a target never conflict with each other', () => {
    fc.assert(
      fc.property(fc.array(configArb, { maxLength: 10 }).map(unique), (configs) => {
        for (const result of mergeAll(configs, noKeys, policy).values()) {
          const accepted = configs.filter(
            (c) =>
              result.outcomes.get(`${c.metadata.namespace}/${c.metadata.name}`)?.state === 'Active',
          );
          const names = accepted.flatMap((c) => c.spec.backends.map((b) => b.name));
          const positions = accepted.map((c) => c.spec.position);
          assert.equal(new Set(names).size, names.length);
          assert.equal(new Set(positions).size, positions.length);
          assert.equal(Object.keys(result.data).length, accepted.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('two objects with one namespace/name are resolved the same way in either order', () => {
    const a = config({ position: 1, backends: [backend('a')] });
    const b = config({ position: 2, backends: [backend('b')] });
    assert.deepEqual(merge([a, b]).data, merge([b, a]).data);
  });
});

describe('the same objects merged again (what every reconcile does)', () => {
  // The merge remembers each object's static verdict and plain facts; what
  // they depend on besides the object must still be read every time.
  test('a changed policy judges the same objects anew', () => {
    const c = config({ name: 'a', target: 'shared/routes' });
    assert.equal(
      mergeTarget('shared/routes', [c], noKeys, policy).outcomes.get('team-a/a')?.state,
      'Active',
    );
    const strict = { ...policy, allowedTargetSecrets: [TARGET] };
    const again = mergeTarget('shared/routes', [c], noKeys, strict).outcomes.get('team-a/a');
    assert.equal(again?.state, 'Error');
    assert.match(again!.reason, /not allowed by the cluster policy/);
  });

  test('a rotated key Secret decrypts the same encrypted objects anew', () => {
    const key = Buffer.alloc(32, 3);
    const plaintext = 'postgres://app:pw@db/orders';
    const c = config({
      name: 'sealed',
      decryptSecret: 'team-a/keys',
      backends: [backend('sealed-db', { endpoint: encryptEndpoint(key, plaintext) })],
    });
    const keys = new ConfigIndex();
    keys.setKeys({ namespace: 'team-a', name: 'keys' }, [{ name: 'k', key }]);
    const first = mergeTarget(TARGET, [c], keys, policy);
    assert.equal(first.outcomes.get('team-a/sealed')?.state, 'Active');
    assert.match(Object.values(first.data)[0]!, /db\/orders/);
    keys.setKeys({ namespace: 'team-a', name: 'keys' }, [{ name: 'k', key: Buffer.alloc(32, 4) }]);
    const second = mergeTarget(TARGET, [c], keys, policy);
    assert.equal(second.outcomes.get('team-a/sealed')?.state, 'Error');
    assert.deepEqual(second.data, {});
  });
});
