import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { describe, test } from 'node:test';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import { ALLOW_ROUTING_CHANGE_ANNOTATION } from '../../../src/resource/names.ts';
import type { Backend, TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { validateCreate, validateDelete, validateUpdate } from '../../../src/rules/index.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

const ALLOW = { [ALLOW_ROUTING_CHANGE_ANNOTATION]: 'true' };
const active = config({ position: 3, status: 'Active', backends: [backend('a'), backend('b')] });

function indexOf(...configs: TopologyConfig[]) {
  const index = new ConfigIndex();
  for (const c of configs) index.upsert(c);
  return index;
}

function edit(change: (c: TopologyConfig) => void, from = active): TopologyConfig {
  const copy = structuredClone(from);
  change(copy);
  return copy;
}

const STRANDED = 'data already written through its routes would become unreachable';

describe('append-only: UPDATE of an Active config', () => {
  const refused: { name: string; change: (c: TopologyConfig) => void; errors: Expected[] }[] = [
    {
      name: 'a backend renamed',
      change: (c) => (c.spec.backends[1]!.name = 'b2'),
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.backends[1].name',
          detail: `renamed from "b" to "b2"; this TopologyConfig is Active, and ${STRANDED}`,
        },
      ],
    },
    {
      name: 'an endpoint changed',
      change: (c) => (c.spec.backends[0]!.endpoint = 'mysql://elsewhere/a'),
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].endpoint',
          detail: `changed; this TopologyConfig is Active`,
        },
      ],
    },
    {
      name: 'a backend removed',
      change: (c) => c.spec.backends.splice(0, 1),
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.backends',
          detail: 'backend "a" (spec.backends[0]) was removed',
        },
        {
          type: 'Forbidden',
          field: 'spec.backends[0]',
          detail: 'backend "b" moved from spec.backends[1]',
        },
      ],
    },
    {
      name: 'backends reordered',
      change: (c) => c.spec.backends.reverse(),
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.backends[1]',
          detail: 'backend "a" moved from spec.backends[0]',
        },
        {
          type: 'Forbidden',
          field: 'spec.backends[0]',
          detail: 'backend "b" moved from spec.backends[1]',
        },
      ],
    },
    {
      name: 'a backend inserted before existing ones',
      change: (c) => c.spec.backends.splice(1, 0, backend('new')),
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.backends[2]',
          detail: 'new backends may only be added at the end',
        },
      ],
    },
    {
      name: 'the position changed',
      change: (c) => (c.spec.position = 7),
      errors: [{ type: 'Forbidden', field: 'spec.position', detail: 'changed from 3 to 7' }],
    },
    {
      name: 'a routing selector changed',
      change: (c) => (c.spec.backends[0]!.prefix = { prefix: '/registry/other/' }),
      errors: [
        { type: 'Forbidden', field: 'spec.backends[0].prefix', detail: 'routing selector changed' },
      ],
    },
  ];
  for (const r of refused) {
    test(`refused: ${r.name}`, () => {
      const updated = edit(r.change);
      const verdict = validateUpdate(updated, active, indexOf(active), policy);
      assertErrors(verdict.errors, r.errors);
      assert.ok(verdict.errors.every((e) => e.detail.includes(ALLOW_ROUTING_CHANGE_ANNOTATION)));
    });
    // The annotation alone no longer admits it: the webhook asks RBAC for
    // the request's user (admission/override.ts); the rule says where.
    test(`refused even with the annotation, as an override of namespace team-a: ${r.name}`, () => {
      const updated = edit((c) => {
        r.change(c);
        c.metadata.annotations = ALLOW;
      });
      const { errors } = validateUpdate(updated, active, indexOf(active), policy);
      assertErrors(errors, r.errors);
      assert.ok(errors.every((e) => isDeepStrictEqual(e.override, ['team-a'])));
    });
  }

  const allowed: { name: string; change: (c: TopologyConfig) => void }[] = [
    { name: 'a backend added at the end', change: (c) => c.spec.backends.push(backend('c')) },
    {
      name: 'pool settings changed',
      change: (c) =>
        (c.spec.backends[0]!.connectionPool = { maxOpen: 10, maxLifeTime: 60_000_000_000 }),
    },
    {
      name: 'TLS settings changed',
      change: (c) =>
        (c.spec.backends[1]!.backendTLS = { caFile: '/etc/ca.pem', skipVerify: false }),
    },
  ];
  for (const a of allowed) {
    test(`allowed: ${a.name}`, () => {
      assert.deepEqual(validateUpdate(edit(a.change), active, indexOf(active), policy).errors, []);
    });
  }

  test('re-encrypting the same endpoint is not a change', () => {
    const key = Buffer.alloc(16, 1);
    const keysRef = { namespace: 'team-a', name: 'keys' };
    const encrypted = (ciphertext: string) =>
      config({
        position: 3,
        status: 'Active',
        decryptSecret: 'team-a/keys',
        backends: [backend('a', { endpoint: ciphertext })],
      });
    const old = encrypted(encryptEndpoint(key, 'mysql://db/a'));
    const index = indexOf(old);
    index.setKeys(keysRef, [{ name: 'k', key }]);
    assert.deepEqual(
      validateUpdate(encrypted(encryptEndpoint(key, 'mysql://db/a')), old, index, policy).errors,
      [],
    );
    assertErrors(
      validateUpdate(encrypted(encryptEndpoint(key, 'mysql://db/b')), old, index, policy).errors,
      [{ type: 'Forbidden', field: 'spec.backends[0].endpoint', detail: 'changed' }],
    );
  });

  test('a config that is not Active may change freely', () => {
    const pending = edit((c) => (c.status = { deployStatus: 'Pending' }));
    const renamed = edit((c) => (c.spec.backends[0]!.name = 'z'), pending);
    assert.deepEqual(validateUpdate(renamed, pending, indexOf(pending), policy).errors, []);
  });
});

describe('targetSecret is immutable', () => {
  test('refused on every UPDATE, even with the annotation', () => {
    const pending = config({ target: 'shared/a' });
    const moved = edit((c) => {
      c.spec.targetSecret = 'shared/b';
      c.metadata.annotations = ALLOW;
    }, pending);
    assertErrors(validateUpdate(moved, pending, indexOf(pending), policy).errors, [
      {
        type: 'Forbidden',
        field: 'spec.targetSecret',
        detail: 'is immutable (was "shared/a"): delete this TopologyConfig and create it again',
      },
    ]);
  });
});

describe('append-only: DELETE', () => {
  test('of an Active config is refused', () => {
    assertErrors(validateDelete(active, indexOf(active), policy).errors, [
      {
        type: 'Forbidden',
        field: 'metadata.annotations',
        detail: `deleting it would make data already written through its routes unreachable; to delete it anyway, first set the annotation ${ALLOW_ROUTING_CHANGE_ANNOTATION}: "true"`,
      },
    ]);
  });
  test('of an Active config carrying the annotation is still refused, as an override of its namespace', () => {
    const annotated = edit((c) => (c.metadata.annotations = ALLOW));
    const { errors } = validateDelete(annotated, indexOf(annotated), policy);
    assert.deepEqual(
      errors.map((e) => [e.field, e.override]),
      [['metadata.annotations', ['team-a']]],
    );
  });
  test('of a config in Error whose entry the Secret keeps is refused (its routes are live)', () => {
    const kept = config({ status: 'Error' });
    kept.status = { ...kept.status, keptInSecret: true };
    assertErrors(validateDelete(kept, indexOf(kept), policy).errors, [
      {
        type: 'Forbidden',
        field: 'metadata.annotations',
        detail: 'deleting it would make data already written through its routes unreachable',
      },
    ]);
  });
  for (const status of [undefined, 'Pending', 'Error'] as const) {
    test(`of a config that is ${status ?? 'without status'} is always allowed`, () => {
      const c = config({ status });
      assert.deepEqual(validateDelete(c, indexOf(c), policy), { errors: [], warnings: [] });
    });
  }
});

// The positional rule ("nothing before an Active config") is replaced by first
// match across selector types: only a config that would take keys an Active
// config after it receives is refused.
describe('first match: a config placed before an Active one', () => {
  const orders = config({
    name: 'orders',
    position: 20,
    status: 'Active',
    backends: [
      backend('orders-cr', {
        prefix: undefined,
        customresource: { group: 'orders.example.com', kind: 'orders' },
      }),
      backend('orders-ns', {
        prefix: undefined,
        namespace: { namespace: 'shop', kinds: ['pods'] },
      }),
      backend('orders-carts', { prefix: { prefix: '/registry/carts/' } }),
    ],
  });
  const cart = (
    backends: Partial<Backend>[],
    position = 10,
    extra: { annotations?: Record<string, string>; status?: 'Active' } = {},
  ) =>
    config({
      namespace: 'team-b',
      name: 'cart',
      position,
      ...extra,
      backends: backends.map((b, i) => ({ ...backend(`cart-${i}`, { prefix: undefined }), ...b })),
    });
  const takes = (field: string, through: string, example: string): Expected => ({
    type: 'Forbidden',
    field,
    detail: `would take keys that team-a/orders (position 20) receives through ${through}, e.g. ${example}: team-a/orders is Active and comes after this config`,
  });

  const refused: { name: string; backends: Partial<Backend>[]; errors: Expected[] }[] = [
    {
      name: 'a whole group before one of its kinds',
      backends: [{ customresource: { group: 'orders.example.com' } }],
      errors: [
        takes(
          'spec.backends[0].customresource',
          'spec.backends[0].customresource',
          '/registry/orders.example.com/orders/…',
        ),
      ],
    },
    {
      name: 'a relative prefix over a custom resource group',
      backends: [{ prefix: { prefix: 'orders.example.com' } }],
      errors: [
        takes(
          'spec.backends[0].prefix',
          'spec.backends[0].customresource',
          '/registry/orders.example.com/orders/…',
        ),
      ],
    },
    {
      name: 'a namespace route over a namespace route with kinds',
      backends: [{ namespace: { namespace: 'shop' } }],
      errors: [
        takes('spec.backends[0].namespace', 'spec.backends[1].namespace', '/registry/pods/shop/…'),
      ],
    },
    {
      name: 'a prefix inside a namespace route',
      backends: [{ prefix: { prefix: '/registry/pods/shop/web' } }],
      errors: [
        takes('spec.backends[0].prefix', 'spec.backends[1].namespace', '/registry/pods/shop/web…'),
      ],
    },
    {
      name: 'a bounded regexp inside a prefix',
      backends: [{ regexp: { key: '^/registry/carts/[0-9]+$' } }],
      errors: [takes('spec.backends[0].regexp', 'spec.backends[2].prefix', '/registry/carts/0')],
    },
    {
      name: 'a regexp the model cannot decide',
      backends: [{ regexp: { key: 'web$' } }],
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.backends[0].regexp',
          detail:
            'may take keys that team-a/orders (position 20) receives through spec.backends[0].customresource (a regular expression this check cannot decide',
        },
        {
          type: 'Forbidden',
          field: 'spec.backends[0].regexp',
          detail: 'through spec.backends[1].namespace',
        },
        {
          type: 'Forbidden',
          field: 'spec.backends[0].regexp',
          detail: 'through spec.backends[2].prefix',
        },
      ],
    },
  ];
  for (const r of refused) {
    test(`refused: ${r.name}`, () => {
      const verdict = validateCreate(cart(r.backends), indexOf(orders), policy);
      assertErrors(verdict.errors, r.errors);
    });
  }

  test('an insertion before an Active config that takes none of its keys is admitted', () => {
    const verdict = validateCreate(
      cart([
        { prefix: { prefix: 'pods/other/' } },
        { customresource: { group: 'orders.example.com', kind: 'invoices' } },
        { namespace: { namespace: 'shop', kinds: ['configmaps'] } },
        { regexp: { key: '^/registry/carts2/' } },
      ]),
      indexOf(orders),
      policy,
    );
    assert.deepEqual(verdict, { errors: [], warnings: [] });
  });
  test('a taking route is an override of both namespaces (its own and the Active one)', () => {
    const verdict = validateCreate(
      cart([{ customresource: { group: 'orders.example.com' } }], 10, { annotations: ALLOW }),
      indexOf(orders),
      policy,
    );
    assert.deepEqual(
      verdict.errors.map((e) => [e.field, e.override]),
      [['spec.backends[0].customresource', ['team-a', 'team-b']]],
    );
  });
  test('after the Active config an overlap is harmless: a warning', () => {
    const verdict = validateCreate(
      cart([{ customresource: { group: 'orders.example.com' } }], 30),
      indexOf(orders),
      policy,
    );
    assert.deepEqual(verdict.errors, []);
    assert.match(verdict.warnings[0]!, /team-a\/orders is matched first where both match/);
  });
  test('before a config that is not Active an overlap is harmless: a warning', () => {
    const pending = edit((c) => delete c.status, orders);
    const verdict = validateCreate(
      cart([{ customresource: { group: 'orders.example.com' } }]),
      indexOf(pending),
      policy,
    );
    assert.deepEqual(verdict.errors, []);
    assert.equal(verdict.warnings.length, 1);
  });
  test('UPDATE of a Pending config before an Active one is judged as an insertion', () => {
    const pending = cart([{ prefix: { prefix: '/registry/elsewhere/' } }]);
    const changed = edit(
      (c) => c.spec.backends.push({ ...backend('cart-9'), prefix: { prefix: 'carts/x' } }),
      pending,
    );
    assertErrors(validateUpdate(changed, pending, indexOf(orders, pending), policy).errors, [
      takes('spec.backends[1].prefix', 'spec.backends[2].prefix', '/registry/carts/x…'),
    ]);
  });
  test('a backend appended to an Active config must not take keys of an Active config after it', () => {
    const before = cart([{ prefix: { prefix: '/registry/elsewhere/' } }], 10, { status: 'Active' });
    const appended = (selector: Partial<Backend>) =>
      edit(
        (c) => c.spec.backends.push({ ...backend('cart-9', { prefix: undefined }), ...selector }),
        before,
      );
    const index = indexOf(orders, before);
    assertErrors(
      validateUpdate(
        appended({ customresource: { group: 'orders.example.com' } }),
        before,
        index,
        policy,
      ).errors,
      [
        takes(
          'spec.backends[1].customresource',
          'spec.backends[0].customresource',
          '/registry/orders.example.com/orders/…',
        ),
      ],
    );
    assert.deepEqual(
      validateUpdate(appended({ prefix: { prefix: '/registry/more/' } }), before, index, policy)
        .errors,
      [],
    );
  });
  test('a config moved before an Active one is judged at its new place', () => {
    const after = cart([{ customresource: { group: 'orders.example.com' } }], 30);
    const moved = edit((c) => (c.spec.position = 10), after);
    assertErrors(validateUpdate(moved, after, indexOf(orders, after), policy).errors, [
      takes(
        'spec.backends[0].customresource',
        'spec.backends[0].customresource',
        '/registry/orders.example.com/orders/…',
      ),
    ]);
  });
  test('a config before an Active one that is being deleted is admitted', () => {
    const deleting = edit((c) => (c.metadata.deletionTimestamp = '2024-06-01T00:00:00Z'), orders);
    const verdict = validateCreate(
      cart([{ customresource: { group: 'orders.example.com' } }]),
      indexOf(deleting),
      policy,
    );
    assert.deepEqual(verdict.errors, []);
  });
});
