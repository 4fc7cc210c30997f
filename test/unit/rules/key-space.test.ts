import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import type { KeySet } from '../../../src/rules/key-space.ts';
import {
  BUILTIN_RESOURCES,
  contains,
  customResourceKeys,
  decidable,
  exactKey,
  firstMatch,
  intersects,
  keySetOfBackend,
  keySetOfSelector,
  matchesKey,
  normalizePrefix,
  prefixKeys,
  resourcesTouched,
  union,
} from '../../../src/rules/key-space.ts';

const table = JSON.parse(
  readFileSync(
    new URL('../../data/kube-apiserver-v1.34.4-storage-keys.json', import.meta.url),
    'utf8',
  ),
) as { resources: typeof BUILTIN_RESOURCES };

test('the table the code uses is the shipped kube-apiserver v1.34.4 table', () => {
  assert.deepEqual(BUILTIN_RESOURCES, table.resources);
  const at = (group: string, resource: string) =>
    BUILTIN_RESOURCES.find((r) => r.group === group && r.resource === resource)?.keyPrefix;
  assert.equal(at('', 'nodes'), '/registry/minions/');
  assert.equal(at('', 'services'), '/registry/services/specs/');
  assert.equal(at('', 'endpoints'), '/registry/services/endpoints/');
  assert.equal(at('', 'replicationcontrollers'), '/registry/controllers/');
  assert.equal(at('networking.k8s.io', 'ingresses'), '/registry/ingress/');
  assert.equal(at('apps', 'deployments'), '/registry/deployments/');
  assert.equal(
    at('apiextensions.k8s.io', 'customresourcedefinitions'),
    '/registry/apiextensions.k8s.io/customresourcedefinitions/',
  );
});

test('both prefix forms: relative to the registry root, and absolute', () => {
  assert.equal(normalizePrefix('pods'), '/registry/pods');
  assert.equal(normalizePrefix('/registry/pods/'), '/registry/pods/');
  assert.deepEqual(prefixKeys('pods'), prefixKeys('/registry/pods'));
  // An absolute prefix is taken as written, also outside the registry root.
  assert.ok(contains(prefixKeys('/'), prefixKeys('pods')).verdict === 'yes');
  assert.equal(intersects(prefixKeys('/other/'), prefixKeys('/registry/')).verdict, 'no');
});

const sel = (field: string, value: unknown): KeySet => keySetOfSelector(field, value);
const P = (prefix: string) => sel('prefix', { prefix });
const CR = (group: string, kind?: string) => sel('customresource', { group, kind });
const NS = (namespace: string, kinds?: string[]) => sel('namespace', { namespace, kinds });
const RX = (key: string) => sel('regexp', { key });

describe('every selector pair: intersects, contains both ways', () => {
  // [a, b, intersects(a,b), contains(a,b), contains(b,a), example shown]
  const cases: [string, KeySet, KeySet, string, string, string, string?][] = [
    [
      'relative and absolute prefix',
      P('pods'),
      P('/registry/pods/'),
      'yes',
      'yes',
      'no',
      '/registry/pods/…',
    ],
    [
      'relative prefix over a group of the same start',
      P('pods'),
      CR('pods.example.com'),
      'yes',
      'yes',
      'no',
      '/registry/pods.example.com/…',
    ],
    [
      'prefix with a slash stops at the resource',
      P('pods/'),
      CR('pods.example.com'),
      'no',
      'no',
      'no',
    ],
    [
      'prefix over a kind of a group',
      P('/registry/orders.example.com/'),
      CR('orders.example.com', 'orders'),
      'yes',
      'yes',
      'no',
      '/registry/orders.example.com/orders/…',
    ],
    [
      'prefix inside a kind',
      P('/registry/orders.example.com/orders/team-a/'),
      CR('orders.example.com', 'orders'),
      'yes',
      'no',
      'yes',
      '/registry/orders.example.com/orders/team-a/…',
    ],
    [
      'group over its kind',
      CR('orders.example.com'),
      CR('orders.example.com', 'orders'),
      'yes',
      'yes',
      'no',
      '/registry/orders.example.com/orders/…',
    ],
    [
      'two kinds of a group',
      CR('orders.example.com', 'orders'),
      CR('orders.example.com', 'invoices'),
      'no',
      'no',
      'no',
    ],
    [
      'group is not a prefix of a longer group',
      CR('a.example.com'),
      CR('a.example.com.au'),
      'no',
      'no',
      'no',
    ],
    [
      'namespace over a prefix inside it',
      NS('team-a'),
      P('/registry/pods/team-a/web'),
      'yes',
      'yes',
      'no',
      '/registry/pods/team-a/web…',
    ],
    [
      'namespace and a service prefix (services/specs)',
      NS('team-a', ['services']),
      P('/registry/services/'),
      'yes',
      'no',
      'yes',
      '/registry/services/specs/team-a/…',
    ],
    [
      'relative prefix services covers endpoints',
      P('services'),
      NS('team-a', ['endpoints']),
      'yes',
      'yes',
      'no',
      '/registry/services/endpoints/team-a/…',
    ],
    [
      'namespace with Kind names',
      NS('team-a', ['Service']),
      NS('team-a', ['services']),
      'yes',
      'yes',
      'yes',
      '/registry/services/specs/team-a/…',
    ],
    [
      'namespace over one of its kinds',
      NS('team-a'),
      NS('team-a', ['configmaps']),
      'yes',
      'yes',
      'no',
      '/registry/configmaps/team-a/…',
    ],
    [
      'namespace kinds apart',
      NS('team-a', ['pods']),
      NS('team-a', ['configmaps']),
      'no',
      'no',
      'no',
    ],
    ['two namespaces', NS('team-a'), NS('team-b'), 'no', 'no', 'no'],
    [
      'namespace does not take custom resources',
      NS('team-a'),
      CR('orders.example.com'),
      'no',
      'no',
      'no',
    ],
    [
      'namespace does not take cluster-scoped nodes',
      NS('minions'),
      P('/registry/minions/'),
      'no',
      'no',
      'no',
    ],
    [
      'anchored literal regexp is the prefix',
      RX('^/registry/pods/'),
      P('pods/'),
      'yes',
      'yes',
      'yes',
      '/registry/pods/…',
    ],
    [
      'anchored regexp ending in $ is one key',
      RX('^/registry/secrets/a/b$'),
      NS('a', ['secrets']),
      'yes',
      'no',
      'yes',
      '/registry/secrets/a/b',
    ],
    [
      'unanchored regexp found in a prefix',
      RX('(roles|rolebindings)'),
      P('/registry/roles/'),
      'yes',
      'unknown',
      'no',
      '/registry/roles/',
    ],
    [
      'bounded regexp outside a prefix',
      RX('^/registry/pods/[a-z]+$'),
      P('/registry/secrets/'),
      'no',
      'no',
      'no',
    ],
    [
      'bounded regexp inside a prefix',
      RX('^/registry/pods/[a-z]+$'),
      P('/registry/pods/'),
      'yes',
      'no',
      'yes',
      '/registry/pods/x',
    ],
    [
      'bounded regexp and a group',
      RX('^/registry/orders\\.example\\.com/.*'),
      CR('orders.example.com', 'orders'),
      'yes',
      'unknown',
      'no',
      '/registry/orders.example.com/orders/',
    ],
    [
      'unanchored regexp and a group: undecidable',
      RX('secret'),
      CR('orders.example.com'),
      'unknown',
      'no',
      'no',
    ],
    [
      'regexps with disjoint bounds',
      RX('^/registry/a/[0-9]'),
      RX('^/registry/b/.'),
      'no',
      'no',
      'no',
    ],
    ['two unanchored regexps', RX('foo'), RX('bar'), 'unknown', 'unknown', 'unknown'],
  ];
  for (const [name, a, b, inter, ab, ba, shown] of cases) {
    test(name, () => {
      const i = intersects(a, b);
      assert.equal(i.verdict, inter, 'intersects');
      assert.equal(intersects(b, a).verdict, inter, 'intersects is symmetric');
      if (shown) assert.equal(i.shown, shown);
      if (i.key) assert.ok(matchesKey(a, i.key) && matchesKey(b, i.key));
      assert.equal(contains(a, b).verdict, ab, 'contains(a, b)');
      assert.equal(contains(b, a).verdict, ba, 'contains(b, a)');
    });
  }
});

test('which resources and namespaces a route touches', () => {
  assert.deepEqual(resourcesTouched(P('services')).touched, [
    { group: '', resource: 'endpoints', partial: false },
    { group: '', resource: 'services', partial: false },
  ]);
  assert.deepEqual(resourcesTouched(P('/registry/pods/default/we')).touched, [
    { group: '', resource: 'pods', namespace: 'default', partial: true },
  ]);
  const ns = resourcesTouched(NS('team-a', ['pods', 'Service']));
  assert.deepEqual(ns.touched, [
    { group: '', resource: 'pods', namespace: 'team-a', partial: false },
    { group: '', resource: 'services', namespace: 'team-a', partial: false },
  ]);
  const orders = customResourceKeys('orders.example.com', 'orders');
  const crs = resourcesTouched(CR('orders.example.com'), [...BUILTIN_RESOURCES, orders]);
  assert.deepEqual(crs.touched, [
    { group: 'orders.example.com', resource: 'orders', partial: false },
  ]);
  assert.equal(crs.decided, true);
  assert.equal(resourcesTouched(RX('^/registry/pods/a')).decided, true);
  const rx = resourcesTouched(RX('^/registry/pods/[a-z]'));
  assert.deepEqual(rx, {
    touched: [{ group: '', resource: 'pods', partial: true }],
    decided: false,
  });
  // The events of both groups share one prefix: both are touched.
  assert.deepEqual(
    resourcesTouched(P('/registry/events/')).touched.map((t) => t.group),
    ['', 'events.k8s.io'],
  );
});

test('a backend takes the union of its selectors', () => {
  const b = keySetOfBackend({
    prefix: { prefix: 'pods/' },
    namespace: { namespace: 'x', kinds: ['secrets'] },
  });
  assert.ok(matchesKey(b, '/registry/pods/y/z'));
  assert.ok(matchesKey(b, '/registry/secrets/x/z'));
  assert.ok(!matchesKey(b, '/registry/secrets/y/z'));
});

// --- properties against brute force ----------------------------------------

const namespaces = ['default', 'team-a', 'team-b'];
const groups = ['orders.example.com', 'orders.example.com.au', 'pods.example.com'];
const crKinds = ['orders', 'invoices'];
const names = ['web', 'web-1', 'x', 'roles', 'secret'];

/** Every key of the universe: built-in (with the exceptions), custom, and strays. */
const universe: string[] = (() => {
  const keys: string[] = [];
  for (const r of BUILTIN_RESOURCES) {
    for (const name of names) {
      if (!r.namespaced) keys.push(`${r.keyPrefix}${name}`);
      else for (const ns of namespaces) keys.push(`${r.keyPrefix}${ns}/${name}`);
    }
  }
  for (const g of groups)
    for (const k of crKinds)
      for (const ns of namespaces)
        for (const name of names) keys.push(`/registry/${g}/${k}/${ns}/${name}`);
  keys.push(
    '/registry/',
    '/registry/pods',
    '/registry/podsx/a',
    '/registry/services/other/a',
    '/other/a',
  );
  return keys;
})();

const regexps = new Map<string, RE2JS>();
const compiledOnce = (source: string) => {
  let re = regexps.get(source);
  if (!re) regexps.set(source, (re = RE2JS.compile(source)));
  return re;
};

/** The documented matching rules, written independently of the model. */
function oracle(field: string, value: Record<string, unknown>, key: string): boolean {
  switch (field) {
    case 'prefix': {
      const p = value.prefix as string;
      return key.startsWith(p.startsWith('/') ? p : `/registry/${p}`);
    }
    case 'customresource': {
      const kind = (value.kind as string | undefined) ?? '';
      return key.startsWith(`/registry/${value.group as string}/${kind ? `${kind}/` : ''}`);
    }
    case 'namespace': {
      const kinds = (value.kinds as string[] | undefined) ?? [];
      return BUILTIN_RESOURCES.some(
        (r) =>
          r.namespaced &&
          (kinds.length === 0 || kinds.includes(r.resource) || kinds.includes(r.kind!)) &&
          key.startsWith(`${r.keyPrefix}${value.namespace as string}/`),
      );
    }
    case 'regexp':
      return compiledOnce(value.key as string)
        .matcher(key)
        .find();
  }
  return false;
}

const prefixArb = fc.oneof(
  fc.constantFrom(
    'pods',
    'pods/',
    'services',
    'services/specs/',
    '/registry/',
    '/registry/secrets/team-a/',
    'orders.example.com',
    '/registry/orders.example.com/orders/',
    '/registry/minions/',
    'p',
    '/registry/services/endpoints/team-b/web',
    '/other/',
    '/',
  ),
  fc
    .tuple(
      fc.constantFrom(...BUILTIN_RESOURCES.map((r) => r.keyPrefix)),
      fc.constantFrom('', 'team-a/', 'default/w', 'x'),
    )
    .map(([a, b]) => a + b),
);
const selectorArb: fc.Arbitrary<[string, Record<string, unknown>]> = fc.oneof(
  prefixArb.map((prefix) => ['prefix', { prefix }] as [string, Record<string, unknown>]),
  fc
    .tuple(fc.constantFrom(...groups), fc.constantFrom('', ...crKinds))
    .map(
      ([group, kind]) => ['customresource', { group, kind }] as [string, Record<string, unknown>],
    ),
  fc
    .tuple(
      fc.constantFrom(...namespaces),
      fc.subarray(['pods', 'Service', 'endpoints', 'secrets', 'nodes', 'configmaps', 'Ingress']),
    )
    .map(
      ([namespace, kinds]) =>
        ['namespace', { namespace, kinds }] as [string, Record<string, unknown>],
    ),
  fc
    .oneof(
      prefixArb.filter((p) => p.startsWith('/')).map((p) => `^${p.replaceAll('.', '\\.')}`),
      prefixArb.filter((p) => p.startsWith('/')).map((p) => `^${p.replaceAll('.', '\\.')}[a-z]+$`),
      fc.constantFrom('roles', 'secret', 'team-a/', 'web$', '^/registry/(pods|secrets)/', 'x'),
    )
    .map((key) => ['regexp', { key }] as [string, Record<string, unknown>]),
);

const inU = (s: KeySet) => universe.filter((k) => matchesKey(s, k));

test('matchesKey follows the documented rules on every key of the universe', () => {
  fc.assert(
    fc.property(selectorArb, ([field, value]) => {
      const set = keySetOfSelector(field, value);
      for (const key of universe)
        assert.equal(matchesKey(set, key), oracle(field, value, key), key);
    }),
    { numRuns: 120 },
  );
});

test('intersects and contains agree with brute-force enumeration', () => {
  fc.assert(
    fc.property(
      fc.array(selectorArb, { minLength: 1, maxLength: 2 }),
      fc.array(selectorArb, { minLength: 1, maxLength: 2 }),
      (as, bs) => {
        const a = union(...as.map(([f, v]) => keySetOfSelector(f, v)));
        const b = union(...bs.map(([f, v]) => keySetOfSelector(f, v)));
        const both = inU(a).filter((k) => matchesKey(b, k));
        const i = intersects(a, b);
        if (i.verdict === 'no') assert.deepEqual(both, []);
        if (i.verdict === 'yes') assert.ok(matchesKey(a, i.key!) && matchesKey(b, i.key!));
        if (decidable(a) && decidable(b)) assert.notEqual(i.verdict, 'unknown');
        const c = contains(a, b);
        const outside = inU(b).filter((k) => !matchesKey(a, k));
        if (c.verdict === 'yes') assert.deepEqual(outside, []);
        if (c.verdict === 'no') assert.ok(matchesKey(b, c.key!) && !matchesKey(a, c.key!));
        if (decidable(a) && decidable(b)) assert.notEqual(c.verdict, 'unknown');
      },
    ),
    { numRuns: 400 },
  );
});

test('who wins where two routes overlap follows first match', () => {
  fc.assert(
    fc.property(fc.array(selectorArb, { minLength: 2, maxLength: 5 }), (list) => {
      const routes = list.map(([f, v]) => keySetOfSelector(f, v));
      for (const key of universe) {
        const winner = firstMatch(routes, key);
        const expected = list.findIndex(([f, v]) => oracle(f, v, key));
        assert.equal(winner, expected, key);
      }
      // Where an earlier route intersects a later one, the earlier receives the shared key.
      for (let i = 0; i < routes.length; i++) {
        for (let j = i + 1; j < routes.length; j++) {
          const shared = intersects(routes[i]!, routes[j]!);
          if (shared.verdict === 'yes') assert.ok(firstMatch(routes, shared.key!) <= i);
        }
      }
    }),
    { numRuns: 40 },
  );
});

test('exact keys', () => {
  const secret = exactKey('/registry/secrets/harikube/topology-config');
  assert.equal(intersects(secret, P('secrets/harikube/topology')).verdict, 'yes');
  assert.equal(intersects(secret, P('secrets/harikube/topology-config-2')).verdict, 'no');
  assert.equal(intersects(secret, RX('topology-config$')).verdict, 'yes');
  assert.equal(contains(P('secrets/'), secret).verdict, 'yes');
});
