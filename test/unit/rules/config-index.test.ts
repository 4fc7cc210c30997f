import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Backend, TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { intersects } from '../../../src/rules/key-space.ts';
import type { Conflict, Overlap } from '../../../src/rules/conflicts.ts';
import type { ConfigFacts, SelectorFacts } from '../../../src/rules/facts.ts';
import { factsOf } from '../../../src/rules/facts.ts';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import { renders } from '../../../src/secret-format/entry.ts';
import { TARGET, backend, config } from './fixtures.ts';

const T1 = 'harikube/topology-config';
const T2 = 'shared/routes';

describe('ConfigIndex bookkeeping', () => {
  test('add, update and remove keep every lookup right', () => {
    const index = new ConfigIndex();
    const a = config({ name: 'a', position: 2, status: 'Active', backends: [backend('a-db')] });
    index.upsert(a);
    assert.equal(index.get('team-a', 'a'), a);
    assert.equal(index.maxPosition(T1), 2);
    assert.deepEqual(index.configsOfTarget(T1), [a]);
    assert.deepEqual([...index.targets()], [T1]);

    const moved = config({ name: 'a', position: 5, backends: [backend('a-db2')] });
    index.upsert(moved);
    assert.equal(index.get('team-a', 'a'), moved);
    assert.equal(index.size, 1);
    assert.equal(index.maxPosition(T1), 5);
    const probe = factsOf(
      config({ namespace: 'team-b', name: 'p', position: 5, backends: [backend('a-db')] }),
      [],
    );
    assert.deepEqual(
      index.findConflicts(probe).map((c) => c.kind),
      ['position'],
      'the old backend name is forgotten, the new position is known',
    );

    index.remove('team-a', 'a');
    assert.equal(index.get('team-a', 'a'), undefined);
    assert.equal(index.size, 0);
    assert.equal(index.maxPosition(T1), 0);
    assert.equal(index.targetBytes(T1), 0);
    assert.deepEqual(index.configsOfTarget(T1), []);
    assert.deepEqual([...index.targets()], [], 'a target no config names is not one');
    assert.deepEqual(index.findConflicts(probe), []);
  });

  test('an update that leaves the entry as it was (a status write) is not rendered again; a changed spec or endpoint is', () => {
    const index = new ConfigIndex();
    const key = Buffer.alloc(32, 7);
    const keysRef = { namespace: 'team-a', name: 'keys' };
    const encrypted = config({
      name: 'a',
      decryptSecret: 'team-a/keys',
      backends: [
        backend('a-db', { endpoint: encryptEndpoint(key, 'postgres://app:pw@db:5432/a') }),
      ],
    });
    index.upsert(encrypted);
    const bytes = index.entryBytes('team-a', 'a');
    const rendered = () => renders.count;
    let before = rendered();
    // A new object with the same content, as a watch event of a status write brings.
    index.upsert({ ...structuredClone(encrypted), status: { deployStatus: 'Active' } });
    assert.equal(rendered() - before, 0);
    assert.equal(index.entryBytes('team-a', 'a'), bytes);

    // The key arrives: the entry holds the decrypted endpoint now, of another length.
    before = rendered();
    index.setKeys(keysRef, [{ name: 'k', key }]);
    assert.equal(rendered() - before, 1);
    const decrypted = index.entryBytes('team-a', 'a');
    assert.notEqual(decrypted, bytes);

    const longer = structuredClone(encrypted);
    longer.spec.backends[0]!.name = 'a-database';
    before = rendered();
    index.upsert(longer);
    assert.equal(rendered() - before, 1);
    assert.equal(index.entryBytes('team-a', 'a'), decrypted + 'a-database'.length - 'a-db'.length);
  });

  test('a finalizer or a status write keeps the facts the maps hold; becoming Active or being deleted re-indexes', () => {
    const index = new ConfigIndex();
    const shared = { prefix: { prefix: '/registry/shared/' } };
    const a = config({
      name: 'a',
      position: 1,
      status: 'Pending',
      backends: [backend('a-db', shared)],
    });
    index.upsert(a);
    const probe = factsOf(
      config({
        namespace: 'team-b',
        name: 'p',
        position: 2,
        backends: [backend('p-db', { prefix: { prefix: '/registry/shared/sub/' } })],
      }),
      [],
    );
    const overlapping = () => index.findOverlaps(probe).map((o) => [o.other.key, o.other.active]);
    const factsHeld = () => index.findOverlaps(probe)[0]!.other;
    assert.deepEqual(overlapping(), [['team-a/a', false]]);
    const held = factsHeld();

    const finalized = structuredClone(a);
    finalized.metadata.finalizers = ['harikube.info/finalizer'];
    index.upsert(finalized);
    assert.equal(index.get('team-a', 'a'), finalized, 'the object is the new one');
    assert.equal(factsHeld(), held, 'the facts are the ones held');
    assert.equal(factsOf(finalized, ['mysql://user:pass@tcp(db:3306)/a-db']), held);

    const active = { ...structuredClone(finalized), status: { deployStatus: 'Active' } };
    index.upsert(active as TopologyConfig);
    assert.deepEqual(overlapping(), [['team-a/a', true]], 'Active now: its data may be stored');

    const deleting = {
      ...structuredClone(active),
      metadata: { ...active.metadata, deletionTimestamp: '2024-05-02T10:00:00Z' },
    };
    index.upsert(deleting as TopologyConfig);
    assert.deepEqual(overlapping(), [], 'a config being deleted takes no part in overlaps');
    assert.deepEqual(index.configsOfTarget(TARGET), [deleting]);
  });

  test('the maximum position falls back when its holder leaves', () => {
    const index = new ConfigIndex();
    for (const [name, position] of [
      ['a', 3],
      ['b', 9],
      ['c', 9],
      ['d', 1],
    ] as const) {
      index.upsert(config({ name, position, backends: [backend(`${name}-db`)] }));
    }
    index.remove('team-a', 'b');
    assert.equal(index.maxPosition(T1), 9);
    index.remove('team-a', 'c');
    assert.equal(index.maxPosition(T1), 3);
  });

  test('a config without a name is ignored; removing an unknown one is harmless', () => {
    const index = new ConfigIndex();
    const nameless = config();
    delete nameless.metadata.name;
    index.upsert(nameless);
    index.remove('nowhere', 'nothing');
    assert.equal(index.size, 0);
  });

  test('objects of any shape are indexed without throwing', () => {
    const index = new ConfigIndex();
    for (const spec of [
      undefined,
      'x',
      { backends: 'x' },
      { backends: [null, { name: 1, prefix: 'x' }], position: 'a', targetSecret: 5 },
    ]) {
      assert.doesNotThrow(() => index.upsert({ ...config(), spec } as unknown as TopologyConfig));
    }
  });
});

// ---- property: the index answers like a naive scan over the current set ----

const selectorArb: fc.Arbitrary<Partial<Backend>> = fc.oneof(
  fc
    .constantFrom(
      '/a',
      '/a/b',
      '/a/b/c',
      '/b',
      '/registry/',
      'pods',
      '/registry/pods/shop/',
      'g.io/',
    )
    .map((prefix) => ({ prefix: { prefix } })),
  fc
    .constantFrom('^/registry/pods/', 'secret', '^/registry/g\\.io/k[0-9]', '^/a/b$')
    .map((key) => ({ regexp: { key } })),
  fc.subarray(['pods', 'secrets']).map((kinds) => ({ namespace: { namespace: 'shop', kinds } })),
  fc.constantFrom('', 'k1', 'k2').map((kind) => ({ customresource: { group: 'g.io', kind } })),
);
const backendArb = fc.record({
  name: fc.constantFrom('n1', 'n2', 'n3', 'n4'),
  endpoint: fc.constantFrom(
    'mysql://tcp(e1)/kine',
    'mysql://u:p@tcp(e2)/kine',
    'mysql://tcp(e3)/kine',
  ),
  selector: selectorArb,
});
const configArb = fc
  .record({
    namespace: fc.constantFrom('a', 'b'),
    name: fc.constantFrom('x', 'y', 'z'),
    position: fc.integer({ min: 1, max: 4 }),
    target: fc.constantFrom(T1, T2),
    active: fc.boolean(),
    deleting: fc.boolean(),
    backends: fc.array(backendArb, { minLength: 1, maxLength: 2 }),
  })
  .map((a) =>
    config({
      namespace: a.namespace,
      name: a.name,
      position: a.position,
      target: a.target,
      status: a.active ? 'Active' : 'Pending',
      deleting: a.deleting,
      backends: a.backends.map((b) => ({ name: b.name, endpoint: b.endpoint, ...b.selector })),
    }),
  );
const opArb = fc.oneof(
  configArb.map((c) => ({ upsert: c })),
  fc
    .record({ namespace: fc.constantFrom('a', 'b'), name: fc.constantFrom('x', 'y', 'z') })
    .map((r) => ({ remove: r })),
);

const endpointsOf = (c: TopologyConfig) => c.spec.backends.map((b) => b.endpoint);
const factsOfConfig = (c: TopologyConfig) => factsOf(c, endpointsOf(c));

function naiveConflicts(probe: ConfigFacts, live: ConfigFacts[]): string[] {
  const out: string[] = [];
  for (const o of live) {
    if (o.key === probe.key) continue;
    if (o.target === probe.target && o.position === probe.position)
      out.push(`position spec.position ${o.key} spec.position`);
    for (const b of probe.backends) {
      for (const ob of o.backends) {
        const at = `spec.backends[${b.index}]`;
        const other = `spec.backends[${ob.index}]`;
        if (b.name === ob.name) out.push(`name ${at}.name ${o.key} ${other}.name`);
        if (o.target !== probe.target) continue;
        if (b.databaseHash !== undefined && b.databaseHash === ob.databaseHash)
          out.push(`endpoint ${at}.endpoint ${o.key} ${other}`);
        for (const s of b.selectors) {
          for (const os of ob.selectors) {
            if (s.canonical === os.canonical)
              out.push(`selector ${at}.${s.field} ${o.key} ${other}.${s.field}`);
          }
        }
      }
    }
  }
  return out.sort();
}

/** Any selector types: the key-space model, asked of every pair. */
function overlapping(s: SelectorFacts, o: SelectorFacts): boolean {
  return s.canonical !== o.canonical && intersects(s.keys, o.keys).verdict !== 'no';
}

function naiveOverlaps(probe: ConfigFacts, live: ConfigFacts[]): string[] {
  const out: string[] = [];
  for (const o of live) {
    if (o.key === probe.key || o.target !== probe.target) continue;
    for (const b of probe.backends) {
      for (const ob of o.backends) {
        for (const s of b.selectors) {
          for (const os of ob.selectors) {
            if (overlapping(s, os))
              out.push(
                `spec.backends[${b.index}].${s.field} ${o.key} spec.backends[${ob.index}].${os.field}`,
              );
          }
        }
      }
    }
  }
  return out.sort();
}

const conflictKey = (c: Conflict) => [c.kind, c.field, c.other.key, c.otherField].join(' ');
const overlapKey = (o: Overlap) => [o.field, o.other.key, o.otherField].join(' ');

function checkAgainstModel(
  index: ConfigIndex,
  model: Map<string, TopologyConfig>,
  probes: TopologyConfig[],
): void {
  const all = [...model.values()];
  const live = all.filter((c) => !c.metadata.deletionTimestamp);
  const liveFacts = live.map(factsOfConfig);
  assert.deepEqual(
    [...index.targets()].sort(),
    [...new Set(all.map((c) => c.spec.targetSecret))].sort(),
    'the targets named, deleting configs included',
  );
  for (const target of [T1, T2]) {
    const ofTarget = all.filter((c) => c.spec.targetSecret === target);
    assert.deepEqual(
      index.configsOfTarget(target),
      ofTarget.sort((a, b) => (factsOfConfig(a).key < factsOfConfig(b).key ? -1 : 1)),
    );
    const liveOfTarget = live.filter((c) => c.spec.targetSecret === target);
    assert.equal(
      index.maxPosition(target),
      Math.max(0, ...liveOfTarget.map((c) => c.spec.position)),
    );
    const bytes = liveOfTarget.reduce(
      (sum, c) => sum + index.entryBytes(c.metadata.namespace!, c.metadata.name!),
      0,
    );
    assert.equal(index.targetBytes(target), bytes);
  }
  for (const probe of [...probes, ...all]) {
    const facts = factsOfConfig(probe);
    assert.deepEqual(
      index.findConflicts(facts).map(conflictKey).sort(),
      naiveConflicts(facts, liveFacts),
    );
    assert.deepEqual(
      index.findOverlaps(facts).map(overlapKey).sort(),
      naiveOverlaps(facts, liveFacts),
    );
  }
}

describe('ConfigIndex property', () => {
  test('after any sequence of upserts and removes, it answers like a naive scan', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 25 }),
        fc.array(configArb, { maxLength: 3 }),
        (ops, probes) => {
          const index = new ConfigIndex();
          const model = new Map<string, TopologyConfig>();
          for (const op of ops) {
            if ('upsert' in op) {
              index.upsert(op.upsert);
              model.set(`${op.upsert.metadata.namespace}/${op.upsert.metadata.name}`, op.upsert);
            } else {
              index.remove(op.remove.namespace, op.remove.name);
              model.delete(`${op.remove.namespace}/${op.remove.name}`);
            }
          }
          checkAgainstModel(index, model, probes);
        },
      ),
      { numRuns: 400 },
    );
  });
});
