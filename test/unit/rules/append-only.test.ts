import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { describe, test } from 'node:test';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import { ALLOW_ROUTING_CHANGE_ANNOTATION } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
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

describe('append-only: a config placed before an Active one', () => {
  const other = (position: number, annotations?: Record<string, string>) =>
    config({
      namespace: 'team-b',
      name: 'cart',
      position,
      annotations,
      backends: [backend('cart-db')],
    });

  test('CREATE at a lower position is refused, naming the Active config', () => {
    assertErrors(validateCreate(other(2), indexOf(active), policy).errors, [
      {
        type: 'Forbidden',
        field: 'spec.position',
        detail: '2 is before team-a/orders (position 3), which is Active',
      },
    ]);
    assert.match(
      validateCreate(other(2), indexOf(active), policy).errors[0]!.detail,
      /use a position after 3/,
    );
  });
  test('CREATE at a lower position is an override of both namespaces (its own and the Active one)', () => {
    const { errors } = validateCreate(other(2, ALLOW), indexOf(active), policy);
    assert.deepEqual(
      errors.map((e) => [e.field, e.override]),
      [['spec.position', ['team-a', 'team-b']]],
    );
  });
  test('CREATE at a higher position is allowed', () => {
    assert.deepEqual(validateCreate(other(4), indexOf(active), policy).errors, []);
  });
  test('UPDATE of a Pending config that sits before an Active one is refused (it would be inserted)', () => {
    const pending = other(2);
    const changed = edit((c) => c.spec.backends.push(backend('cart-extra')), pending);
    assertErrors(validateUpdate(changed, pending, indexOf(active, pending), policy).errors, [
      { type: 'Forbidden', field: 'spec.position', detail: 'which is Active' },
    ]);
  });
  test('a config before an Active one that is being deleted is allowed', () => {
    const deleting = edit((c) => (c.metadata.deletionTimestamp = '2024-06-01T00:00:00Z'));
    assert.deepEqual(validateCreate(other(2), indexOf(deleting), policy).errors, []);
  });
});
