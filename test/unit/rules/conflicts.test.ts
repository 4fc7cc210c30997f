import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ASSIGNED_POSITION_ANNOTATION } from '../../../src/resource/names.ts';
import type { Backend } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { MAX_OVERLAPS } from '../../../src/rules/conflict-maps.ts';
import { formatFieldError } from '../../../src/rules/field-errors.ts';
import { validateCreate, validateUpdate } from '../../../src/rules/index.ts';
import type { Expected } from './fixtures.ts';
import { assertErrors, backend, config, policy } from './fixtures.ts';

/** team-a/orders at position 3: a prefix, a namespace and a customresource route. */
const orders = config({
  namespace: 'team-a',
  name: 'orders',
  position: 3,
  backends: [
    backend('orders-db', { prefix: { prefix: '/registry/orders/' } }),
    backend('orders-ns', {
      prefix: undefined,
      namespace: { namespace: 'shop', kinds: ['pods', 'secrets'] },
    }),
    backend('orders-cr', {
      prefix: undefined,
      customresource: { group: 'orders.example.com', kind: 'carts' },
    }),
  ],
});
const elsewhere = config({
  namespace: 'team-c',
  name: 'billing',
  position: 1,
  target: 'shared/routes',
  backends: [backend('billing-db')],
});

function view() {
  const index = new ConfigIndex();
  index.upsert(orders);
  index.upsert(elsewhere);
  return index;
}

const candidate = (backends: Backend[], position = 4) =>
  config({ namespace: 'team-b', name: 'cart', position, backends });

describe('conflicts with other configs', () => {
  test('the reason names the field and the other object exactly', () => {
    const verdict = validateCreate(
      candidate([
        backend('cart-db'),
        backend('orders-db', { endpoint: 'mysql://new/x', prefix: { prefix: '/new/' } }),
      ]),
      view(),
      policy,
    );
    assert.deepEqual(verdict.errors.map(formatFieldError), [
      'spec.backends[1].name: "orders-db" is already used by team-a/orders (position 3)',
    ]);
  });

  const cases: { name: string; backends: Backend[]; position?: number; errors: Expected[] }[] = [
    { name: 'nothing shared', backends: [backend('cart-db')], errors: [] },
    {
      name: 'a backend name used in another target (names are cluster-wide)',
      backends: [
        backend('billing-db', { endpoint: 'mysql://other', prefix: { prefix: '/billing/' } }),
      ],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[0].name',
          detail:
            '"billing-db" is already used by team-c/billing (position 1, target shared/routes)',
        },
      ],
    },
    {
      name: 'the same endpoint as another backend of the target',
      backends: [backend('cart-db', { endpoint: orders.spec.backends[1]!.endpoint })],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[0].endpoint',
          detail: 'points at the same database as team-a/orders spec.backends[1] (position 3)',
        },
      ],
    },
    {
      name: 'the same endpoint in another target is fine',
      backends: [backend('cart-db', { endpoint: elsewhere.spec.backends[0]!.endpoint })],
      errors: [],
    },
    {
      name: 'the same position',
      backends: [backend('cart-db')],
      position: 3,
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.position',
          detail: '3 is already taken by team-a/orders (position 3) in harikube/topology-config',
        },
      ],
    },
    {
      name: 'an identical namespace selector (kinds in another order)',
      backends: [
        backend('cart-db', {
          prefix: undefined,
          namespace: { namespace: 'shop', kinds: ['secrets', 'pods'] },
        }),
      ],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[0].namespace',
          detail: 'the same selector as team-a/orders spec.backends[1].namespace (position 3)',
        },
      ],
    },
    {
      name: 'an identical prefix',
      backends: [backend('cart-db', { prefix: { prefix: '/registry/orders/' } })],
      errors: [
        {
          type: 'Duplicate',
          field: 'spec.backends[0].prefix',
          detail: 'team-a/orders spec.backends[0].prefix',
        },
      ],
    },
    {
      name: 'every conflict at once',
      backends: [
        backend('orders-db', {
          endpoint: orders.spec.backends[0]!.endpoint,
          prefix: { prefix: '/registry/orders/' },
        }),
      ],
      position: 3,
      errors: [
        { type: 'Duplicate', field: 'spec.position', detail: 'team-a/orders' },
        { type: 'Duplicate', field: 'spec.backends[0].name', detail: 'team-a/orders' },
        { type: 'Duplicate', field: 'spec.backends[0].endpoint', detail: 'team-a/orders' },
        { type: 'Duplicate', field: 'spec.backends[0].prefix', detail: 'team-a/orders' },
      ],
    },
  ];
  for (const c of cases)
    test(c.name, () =>
      assertErrors(
        validateCreate(candidate(c.backends, c.position), view(), policy).errors,
        c.errors,
      ),
    );

  test('an UPDATE is judged without its own old self', () => {
    const index = view();
    const changed = structuredClone(orders);
    changed.spec.backends.push(backend('orders-extra'));
    assert.deepEqual(validateUpdate(changed, orders, index, policy), { errors: [], warnings: [] });
  });

  test('a config being deleted conflicts with nothing', () => {
    const index = new ConfigIndex();
    index.upsert(
      config({
        ...{ namespace: 'team-a', name: 'orders', position: 3 },
        deleting: true,
        backends: orders.spec.backends,
      }),
    );
    assert.deepEqual(validateCreate(candidate(orders.spec.backends, 3), index, policy).errors, []);
  });
});

describe('overlaps that position resolves are warnings naming the winner', () => {
  const cases: { name: string; backends: Backend[]; position?: number; warnings: string[] }[] = [
    {
      name: 'a prefix inside an earlier one',
      backends: [backend('cart-db', { prefix: { prefix: '/registry/orders/carts/' } })],
      warnings: [
        'spec.backends[0].prefix overlaps team-a/orders spec.backends[0].prefix (position 3); team-a/orders is matched first where both match',
      ],
    },
    {
      // Across selector types: `/registry/orders` also covers the group orders.example.com.
      name: 'a broader prefix placed before',
      backends: [backend('cart-db', { prefix: { prefix: '/registry/orders' } })],
      position: 2,
      warnings: [
        'spec.backends[0].prefix overlaps team-a/orders spec.backends[0].prefix (position 3); this config is matched first where both match',
        'spec.backends[0].prefix overlaps team-a/orders spec.backends[2].customresource (position 3); this config is matched first where both match',
      ],
    },
    {
      name: 'namespace kinds inside another’s',
      backends: [
        backend('cart-db', {
          prefix: undefined,
          namespace: { namespace: 'shop', kinds: ['pods'] },
        }),
      ],
      warnings: [
        'spec.backends[0].namespace overlaps team-a/orders spec.backends[1].namespace (position 3); team-a/orders is matched first where both match',
      ],
    },
    {
      name: 'a namespace selector for every kind',
      backends: [backend('cart-db', { prefix: undefined, namespace: { namespace: 'shop' } })],
      warnings: [
        'spec.backends[0].namespace overlaps team-a/orders spec.backends[1].namespace (position 3); team-a/orders is matched first where both match',
      ],
    },
    {
      name: 'a whole group against one of its kinds',
      backends: [
        backend('cart-db', { prefix: undefined, customresource: { group: 'orders.example.com' } }),
      ],
      warnings: [
        'spec.backends[0].customresource overlaps team-a/orders spec.backends[2].customresource (position 3); team-a/orders is matched first where both match',
      ],
    },
    {
      name: 'disjoint selectors',
      backends: [
        backend('cart-db', { prefix: { prefix: '/registry/carts/' } }),
        backend('cart-ns', {
          prefix: undefined,
          namespace: { namespace: 'shop', kinds: ['configmaps'] },
        }),
        backend('cart-cr', {
          prefix: undefined,
          customresource: { group: 'orders.example.com', kind: 'orders' },
        }),
      ],
      warnings: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const verdict = validateCreate(candidate(c.backends, c.position), view(), policy);
      assert.deepEqual(verdict, { errors: [], warnings: c.warnings });
    });
  }

  test(`at most ${MAX_OVERLAPS} overlap warnings`, () => {
    const index = new ConfigIndex();
    for (let i = 0; i < 20; i++) {
      index.upsert(
        config({
          namespace: 'team-x',
          name: `c${i}`,
          position: i + 1,
          backends: [backend(`db${i}`, { prefix: { prefix: `/registry/x/${i}/` } })],
        }),
      );
    }
    const verdict = validateCreate(
      candidate([backend('cart-db', { prefix: { prefix: '/registry/' } })], 100),
      index,
      policy,
    );
    assert.equal(verdict.warnings.length, MAX_OVERLAPS);
  });
});

describe('a position the product assigned collides: a warning, the reconciler moves it', () => {
  const assigned = (position: number, value = String(position)) => {
    const c = candidate([backend('cart-db')], position);
    c.metadata.annotations = { [ASSIGNED_POSITION_ANNOTATION]: value };
    return c;
  };

  test('a CREATE is admitted with a warning naming the other config', () => {
    const verdict = validateCreate(assigned(3), view(), policy);
    assert.deepEqual(verdict.errors, []);
    assert.deepEqual(verdict.warnings, [
      'spec.position: 3 was assigned (no position was given) and is also taken by team-a/orders (position 3) in harikube/topology-config; the reconciler moves this config to the next free position',
    ]);
  });

  test('a position its author wrote is refused as before, even beside a stale annotation', () => {
    assertErrors(validateCreate(assigned(3, '9'), view(), policy).errors, [
      { type: 'Duplicate', field: 'spec.position', detail: '3 is already taken by team-a/orders' },
    ]);
  });

  test('an UPDATE that keeps it is admitted; one that moves it onto a taken position is refused', () => {
    const old = assigned(3);
    const same = assigned(3);
    same.spec.backends.push(backend('cart-extra'));
    assert.deepEqual(validateUpdate(same, old, view(), policy).errors, []);
    const onto = assigned(3);
    assertErrors(validateUpdate(onto, assigned(8), view(), policy).errors, [
      { type: 'Duplicate', field: 'spec.position', detail: '3 is already taken by team-a/orders' },
    ]);
  });
});
