// Adopting a Secret the seed's HariKube operator wrote: its keys parsed, each
// entry matched to the config that wrote it, the middleware's lexical order
// kept for every key it routes (10-… before 2-…), and the merge treating the
// adopted entries as incumbents.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  looksLikeSeed,
  notManagedReason,
  parseSeedKey,
  planAdoption,
  routesOf,
  routingChanges,
} from '../../../src/reconcile/adopt.ts';
import { mergeTarget } from '../../../src/reconcile/merge.ts';
import type { Backend, TopologyConfig } from '../../../src/resource/types.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { config, policy, TARGET } from '../rules/fixtures.ts';

const noKeys: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };

/** A config as the API server holds it: uid, generation, not Active yet (the Secret was not ours). */
function stored(
  name: string,
  position: number,
  backends: Backend[],
  namespace = 'team-a',
): TopologyConfig {
  const c = config({ name, namespace, position, backends, status: 'Error' });
  c.metadata.uid = `uid-${namespace}-${name}`;
  c.metadata.generation = 3;
  return c;
}

const db = (name: string) => `mysql://root:pw@tcp(${name}.db:3306)/kine`;

/** One entry as the seed operator writes it (its own YAML, not this product's rendering). */
function seedValue(backends: ReadonlyArray<{ name: string; selector: string }>): string {
  return `backends:\n${backends.map((b) => `- name: ${b.name}\n  endpoint: ${db(b.name)}\n${b.selector}`).join('\n')}\n`;
}

// `a` takes every pod of namespace default by prefix; `b` takes namespace default by selector:
// they share /registry/pods/default/…, and the first one the middleware reads wins.
const podsOfDefault = '  prefix:\n    prefix: /registry/pods/default/\n';
const namespaceDefault = '  namespace:\n    namespace: default\n    kinds: []\n';
const aBackend: Backend = {
  name: 'a-db',
  endpoint: db('a-db'),
  prefix: { prefix: '/registry/pods/default/' },
};
const bBackend: Backend = {
  name: 'b-db',
  endpoint: db('b-db'),
  namespace: { namespace: 'default', kinds: [] },
};
const overlapping = {
  '10-a.yaml': seedValue([{ name: 'a-db', selector: podsOfDefault }]),
  '2-b.yaml': seedValue([{ name: 'b-db', selector: namespaceDefault }]),
};

describe('seed keys', () => {
  test('<order>-<name>.yaml, the name may hold dots; anything else is not the seed format', () => {
    assert.deepEqual(parseSeedKey('10-a.yaml'), { order: 10, name: 'a' });
    assert.deepEqual(parseSeedKey('2-my.config.yaml'), { order: 2, name: 'my.config' });
    for (const key of ['owner', '10-.yaml', 'a-10.yaml', '10-a.yml', '-a.yaml'])
      assert.equal(parseSeedKey(key), undefined, key);
    assert.equal(looksLikeSeed(overlapping), true);
    assert.equal(looksLikeSeed({}), true, 'an empty Secret, as HariKube docs create it');
    assert.equal(looksLikeSeed({ '1-a.yaml': '', owner: 'x' }), false);
  });

  test("an unmanaged Secret's reason says how to adopt it only when the seed could have written it", () => {
    const seed = notManagedReason(TARGET, overlapping);
    assert.match(seed, /topology adopt --dry-run harikube\/topology-config/);
    assert.match(seed, /harikube\.info\/adopt=true/);
    const other = notManagedReason(TARGET, { owner: 'x' });
    assert.doesNotMatch(other, /adopt/);
    assert.match(other, /never overwritten: choose another targetSecret or remove that Secret$/);
  });
});

describe('the middleware order is kept', () => {
  test('10-a before 2-b lexically, positions 10 and 2, routes sharing keys: refused with what to change', () => {
    const plan = planAdoption(overlapping, [
      stored('a', 10, [aBackend]),
      stored('b', 2, [bBackend]),
    ]);
    assert.equal(plan.ok, false);
    assert.deepEqual(!plan.ok && plan.problems, [
      'keys such as /registry/pods/default/… that backend "a-db" (10-a.yaml) receives would go to backend "b-db" (2-b.yaml): the middleware reads 10-a.yaml before 2-b.yaml (lexical order), but at their positions (team-a/a: 10, team-a/b: 2) team-a/b would come first; give team-a/a a position below 2, or team-a/b one above 10, so that the order the middleware follows today is kept',
    ]);
  });

  test('with a position below b, a keeps the keys it has today: every key routes as before', () => {
    const a = stored('a', 1, [aBackend]);
    const b = stored('b', 2, [bBackend]);
    const plan = planAdoption(overlapping, [b, a]);
    assert.ok(plan.ok, JSON.stringify(plan));
    assert.deepEqual(plan.entries, [
      { from: '10-a.yaml', to: '0000000001-team-a.a.yaml', config: 'team-a/a' },
      { from: '2-b.yaml', to: '0000000002-team-a.b.yaml', config: 'team-a/b' },
    ]);
    assert.deepEqual(plan.reordered, []);
    // The seed's values, owned by the configs that wrote them.
    assert.deepEqual(
      [...plan.written].map(([key, e]) => [key, e.uid, e.generation, e.value]),
      [
        ['0000000001-team-a.a.yaml', 'uid-team-a-a', 3, overlapping['10-a.yaml']],
        ['0000000002-team-a.b.yaml', 'uid-team-a-b', 3, overlapping['2-b.yaml']],
      ],
    );
    const adopted = Object.fromEntries([...plan.written].map(([k, e]) => [k, e.value]));
    assert.deepEqual(routingChanges(routesOf(overlapping), routesOf(adopted)), []);
  });

  test('entries whose routes share no key may change places: first match is the same', () => {
    const data = {
      '10-a.yaml': seedValue([{ name: 'a-db', selector: '  prefix:\n    prefix: /registry/a/\n' }]),
      '2-b.yaml': seedValue([{ name: 'b-db', selector: '  prefix:\n    prefix: /registry/b/\n' }]),
    };
    const plan = planAdoption(data, [
      stored('a', 10, [{ name: 'a-db', endpoint: db('a-db'), prefix: { prefix: '/registry/a/' } }]),
      stored('b', 2, [{ name: 'b-db', endpoint: db('b-db'), prefix: { prefix: '/registry/b/' } }]),
    ]);
    assert.ok(plan.ok, JSON.stringify(plan));
    assert.deepEqual(plan.reordered, ['10-a.yaml', '2-b.yaml']);
    assert.deepEqual(
      [...plan.written.keys()],
      ['0000000010-team-a.a.yaml', '0000000002-team-a.b.yaml'],
    );
  });

  test('a regular expression the check cannot decide counts as shared keys', () => {
    const data = {
      '10-a.yaml': seedValue([{ name: 'a-db', selector: podsOfDefault }]),
      '2-b.yaml': seedValue([
        { name: 'b-db', selector: "  regexp:\n    prefix: '^/registry/pods/default/[0-9]{5}z$'\n" },
      ]),
    };
    const b: Backend = {
      name: 'b-db',
      endpoint: db('b-db'),
      regexp: { prefix: '^/registry/pods/default/[0-9]{5}z$' },
    };
    const plan = planAdoption(data, [stored('a', 10, [aBackend]), stored('b', 2, [b])]);
    assert.equal(plan.ok, false);
    assert.match(
      !plan.ok ? plan.problems[0]! : '',
      /^keys that backend "a-db" \(10-a\.yaml\) receives may go to backend "b-db" \(2-b\.yaml\) \(a regular expression this check cannot decide\)/,
    );
  });
});

describe('matching entries to configs', () => {
  test('same name in two namespaces: the one whose backends the entry lists', () => {
    const data = {
      '3-orders.yaml': seedValue([
        { name: 'orders-b', selector: '  prefix:\n    prefix: /registry/b/\n' },
      ]),
    };
    const inA = stored(
      'orders',
      3,
      [{ name: 'orders-a', endpoint: db('x'), prefix: { prefix: '/registry/a/' } }],
      'team-a',
    );
    const inB = stored(
      'orders',
      3,
      [{ name: 'orders-b', endpoint: db('orders-b'), prefix: { prefix: '/registry/b/' } }],
      'team-b',
    );
    const plan = planAdoption(data, [inA, inB]);
    assert.ok(plan.ok, JSON.stringify(plan));
    assert.deepEqual(plan.entries, [
      { from: '3-orders.yaml', to: '0000000003-team-b.orders.yaml', config: 'team-b/orders' },
    ]);
  });

  test('an empty Secret (as HariKube docs have users create it) is adopted with nothing to keep', () => {
    const plan = planAdoption({}, [stored('a', 1, [aBackend])]);
    assert.deepEqual(plan.ok && [plan.entries, [...plan.written]], [[], []]);
  });

  test('nothing is adopted while any key would be dropped or its writer is unknown', () => {
    const plan = planAdoption(
      {
        ...overlapping,
        '5-gone.yaml': seedValue([
          { name: 'gone-db', selector: '  prefix:\n    prefix: /registry/g/\n' },
        ]),
        'notes.txt': 'x',
        '7-a.yaml': overlapping['10-a.yaml'],
      },
      [stored('a', 1, [aBackend]), stored('b', 2, [bBackend])],
    );
    assert.equal(plan.ok, false);
    assert.deepEqual(!plan.ok && plan.problems, [
      'data key 5-gone.yaml: no TopologyConfig named "gone" names this Secret, so its routes would be dropped: create the config that wrote it (same name and backends), or remove the key from the Secret',
      'data keys 10-a.yaml and 7-a.yaml are both entries of team-a/a; one config has one entry: remove the one the middleware should no longer read',
      "data key notes.txt is not in the seed operator's format <order>-<name>.yaml, so the config that wrote it is not known: remove it from the Secret, or choose another targetSecret",
    ]);
  });

  test("two configs of that name, neither listing the entry's backends: not known", () => {
    const data = {
      '3-orders.yaml': seedValue([
        { name: 'orders-c', selector: '  prefix:\n    prefix: /registry/c/\n' },
      ]),
    };
    const plan = planAdoption(data, [
      stored('orders', 3, [aBackend], 'team-a'),
      stored('orders', 3, [bBackend], 'team-b'),
    ]);
    assert.deepEqual(!plan.ok && plan.problems, [
      'data key 3-orders.yaml: none of the configs named "orders" (team-a/orders, team-b/orders) begins with its backends ("orders-c"), so the config that wrote it is not known',
    ]);
  });
});

describe('routing changes', () => {
  const route = (backend: string, entry: string, prefix: string) =>
    routesOf({
      [entry]: seedValue([{ name: backend, selector: `  prefix:\n    prefix: ${prefix}\n` }]),
    })[0]!;

  test('a new route ahead of one that shares its keys, and a route gone', () => {
    const before = [
      route('a', '1-a.yaml', '/registry/pods/'),
      route('c', '3-c.yaml', '/registry/c/'),
    ];
    const after = [route('n', '0-n.yaml', '/registry/pods/team/'), before[0]!];
    assert.deepEqual(routingChanges(before, after), [
      {
        from: { backend: 'a', entry: '1-a.yaml' },
        to: { backend: 'n', entry: '0-n.yaml' },
        example: '/registry/pods/team/…',
        verdict: 'yes',
      },
      { from: { backend: 'c', entry: '3-c.yaml' }, example: '/registry/c/…', verdict: 'yes' },
    ]);
    assert.deepEqual(routingChanges(before, before), []);
  });
});

describe('adopted entries are incumbents', () => {
  test('the merge renews them at their keys (Active), and keeps the seed entry of a config changed unsafely', () => {
    const a = stored('a', 1, [aBackend]);
    // b's endpoint changed since the seed wrote its entry: data written through it would be stranded.
    const b = stored('b', 2, [{ ...bBackend, endpoint: db('elsewhere') }]);
    const plan = planAdoption(overlapping, [a, b]);
    assert.ok(plan.ok);
    const result = mergeTarget(TARGET, [a, b], noKeys, policy, {
      written: new Map([[TARGET, plan.written]]),
    });
    assert.deepEqual(Object.keys(result.data), [
      '0000000001-team-a.a.yaml',
      '0000000002-team-a.b.yaml',
    ]);
    assert.equal(result.outcomes.get('team-a/a')?.state, 'Active');
    const kept = result.outcomes.get('team-a/b');
    assert.equal(kept?.state, 'Error');
    assert.equal(kept?.cause, 'KeptInSecret');
    assert.match(kept?.reason ?? '', /spec\.backends\[0\]\.endpoint: changed/);
    assert.equal(result.data['0000000002-team-a.b.yaml'], overlapping['2-b.yaml']);
    assert.deepEqual(result.owners.get('0000000002-team-a.b.yaml'), {
      uid: 'uid-team-a-b',
      generation: 3,
    });
  });
});
