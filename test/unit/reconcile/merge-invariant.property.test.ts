// Property: whatever happens to the configs, their keys, the policy and the
// caches, an entry leaves a target Secret only when its config is deleted.
// Random sequences of events (edits, unsafe edits with and without an
// authorised override, key loss and restore, policy changes, conflicting
// creates in several targets, deletions, a delete and a create under the same
// name, stale caches, relists and replica restarts) are applied to a model
// cluster; after each, every target is reconciled as the reconciler does it
// (the merge of what it sees and what the Secrets hold, its own Secret
// written), and the invariant is checked:
//   - every entry owned before the step is still owned by the same config,
//     unless that config was deleted;
//   - an entry changes only into its config's current generation (Active);
//   - every config the merge calls Active is in its Secret at its generation;
//   - no backend name is held twice, no position twice in one Secret;
//   - the merge is deterministic (the same inputs in another order agree).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import type { EntryOwner, WrittenEntry } from '../../../src/reconcile/incumbents.ts';
import { mergeAll, type MergeState } from '../../../src/reconcile/merge.ts';
import type { Backend, TopologyConfig } from '../../../src/resource/types.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { policy as basePolicy } from '../rules/fixtures.ts';

const TARGETS = ['harikube/topology-config', 'shared/a', 'shared/b'] as const;
const NAMESPACES = ['team-a', 'team-b'] as const;
const NAMES = ['orders', 'users', 'carts', 'stock'] as const;
const BACKENDS = ['db-1', 'db-2', 'db-3', 'db-4', 'db-5'] as const;
const KEY = Buffer.alloc(32, 9);

type Event =
  | {
      kind: 'create';
      ns: number;
      name: number;
      target: number;
      position: number;
      backend: number;
      sealed: boolean;
      cross: boolean;
    }
  | { kind: 'editPool'; ns: number; name: number; maxOpen: number }
  | { kind: 'append'; ns: number; name: number; backend: number }
  | { kind: 'unsafe'; ns: number; name: number; authorised: boolean }
  | { kind: 'delete'; ns: number; name: number }
  | { kind: 'keys'; ns: number; present: boolean }
  | { kind: 'crossNamespace'; allowed: boolean }
  | { kind: 'limit'; small: boolean }
  | { kind: 'stale'; lag: number }
  | { kind: 'restart' };

const index = (n: number) => fc.nat({ max: n - 1 });
const event: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      ns: index(2),
      name: index(4),
      target: index(3),
      position: fc.integer({ min: 1, max: 4 }),
      backend: index(5),
      sealed: fc.boolean(),
      cross: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('editPool' as const),
      ns: index(2),
      name: index(4),
      maxOpen: fc.integer({ min: 1, max: 99 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      ns: index(2),
      name: index(4),
      backend: index(5),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('unsafe' as const),
      ns: index(2),
      name: index(4),
      authorised: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), ns: index(2), name: index(4) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('keys' as const),
      ns: index(2),
      present: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('crossNamespace' as const), allowed: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('limit' as const), small: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stale' as const),
      lag: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

interface World {
  configs: Map<string, TopologyConfig>;
  /** Snapshots of `configs` after each step: a stale cache replays one of them. */
  history: Map<string, TopologyConfig>[];
  secrets: Map<string, Map<string, WrittenEntry>>;
  keysPresent: Set<string>;
  policy: typeof basePolicy;
  /** uids whose config was deleted (their entries may go). */
  deleted: Set<string>;
  /** uids whose unsafe change was authorised at their current generation. */
  authorised: Set<string>;
  clock: number;
  uids: number;
}

const endpointOf = (backend: string) => `mysql://u:p@tcp(${backend}:3306)/kine`;

function backendFor(name: string, sealed: boolean, extra: Partial<Backend> = {}): Backend {
  return {
    name,
    endpoint: sealed ? encryptEndpoint(KEY, endpointOf(name)) : endpointOf(name),
    prefix: { prefix: `/registry/${name}/` },
    ...extra,
  };
}

/** A new object per change (informer objects are never mutated). */
function changed(
  c: TopologyConfig,
  spec: Partial<TopologyConfig['spec']>,
  authorised = false,
): TopologyConfig {
  return {
    ...c,
    metadata: {
      ...c.metadata,
      generation: (c.metadata.generation ?? 1) + 1,
      annotations: authorised ? { 'harikube.info/allow-unsafe-routing-change': 'true' } : {},
    },
    spec: { ...c.spec, ...spec },
  };
}

function apply(world: World, e: Event): { lag: number } {
  const id = 'name' in e ? `${NAMESPACES[e.ns]}/${NAMES[e.name]}` : '';
  const current = world.configs.get(id);
  switch (e.kind) {
    case 'create': {
      if (current) break;
      const namespace = NAMESPACES[e.ns]!;
      const keyNamespace = e.cross ? NAMESPACES[1 - e.ns]! : namespace;
      world.configs.set(id, {
        apiVersion: 'harikube.info/v1',
        kind: 'TopologyConfig',
        metadata: {
          namespace,
          name: NAMES[e.name]!,
          uid: `uid-${++world.uids}`,
          generation: 1,
          creationTimestamp: new Date(Date.UTC(2025, 0, 1) + ++world.clock * 1000).toISOString(),
        },
        spec: {
          targetSecret: TARGETS[e.target]!,
          position: e.position,
          backends: [backendFor(BACKENDS[e.backend]!, e.sealed)],
          ...(e.sealed ? { endpointDecryptSecret: `${keyNamespace}/keys` } : {}),
        },
      });
      break;
    }
    case 'editPool':
      if (current) {
        const [first, ...rest] = current.spec.backends;
        world.configs.set(
          id,
          changed(current, {
            backends: [{ ...first!, connectionPool: { maxOpen: e.maxOpen } }, ...rest],
          }),
        );
      }
      break;
    case 'append':
      if (current && current.spec.backends.length < 3) {
        const sealed = Boolean(current.spec.endpointDecryptSecret);
        const name = `${BACKENDS[e.backend]}-${current.spec.backends.length}`;
        world.configs.set(
          id,
          changed(current, { backends: [...current.spec.backends, backendFor(name, sealed)] }),
        );
      }
      break;
    case 'unsafe':
      // Re-point the first backend's selector: it strands data unless authorised.
      if (current) {
        const [first, ...rest] = current.spec.backends;
        const next = changed(
          current,
          {
            backends: [
              { ...first!, prefix: { prefix: `/registry/moved-${world.clock++}/` } },
              ...rest,
            ],
          },
          e.authorised,
        );
        world.configs.set(id, next);
        if (e.authorised) world.authorised.add(`${next.metadata.uid}@${next.metadata.generation}`);
      }
      break;
    case 'delete':
      if (current) {
        world.configs.delete(id);
        world.deleted.add(current.metadata.uid!);
      }
      break;
    case 'keys':
      if (e.present) world.keysPresent.add(NAMESPACES[e.ns]!);
      else world.keysPresent.delete(NAMESPACES[e.ns]!);
      break;
    case 'crossNamespace':
      world.policy = { ...world.policy, allowCrossNamespaceDecryptSecret: e.allowed };
      break;
    case 'limit':
      world.policy = { ...world.policy, maxSecretBytes: e.small ? 900 : basePolicy.maxSecretBytes };
      break;
    case 'stale':
      return { lag: e.lag };
    case 'restart':
      // A new replica: new objects (nothing remembered per object), the same Secrets.
      world.configs = new Map([...world.configs].map(([k, c]) => [k, structuredClone(c)]));
      break;
  }
  return { lag: 0 };
}

function keysOf(world: World): KeyLookup {
  return {
    keysOf: (ref) =>
      world.keysPresent.has(ref.namespace) && ref.name === 'keys'
        ? { found: true, labeled: true, keys: [{ name: 'k', key: KEY }] }
        : { found: false, keys: [] },
  };
}

const ownersOf = (world: World) => {
  const owners = new Map<string, { target: string; key: string; entry: WrittenEntry }>();
  for (const [target, secret] of world.secrets)
    for (const [key, entry] of secret) owners.set(entry.uid, { target, key, entry });
  return owners;
};

function state(world: World): MergeState {
  return {
    written: new Map([...world.secrets].map(([t, s]) => [t, new Map(s)])),
    authorised: (c) => world.authorised.has(`${c.metadata.uid}@${c.metadata.generation}`),
  };
}

/** Every target reconciled once, in the given order, each from what it sees then. */
function reconcile(world: World, cache: TopologyConfig[], order: readonly string[]): void {
  const present = new Set([...world.configs.values()].map((c) => c.metadata.uid!));
  for (const target of order) {
    const results = mergeAll(cache, keysOf(world), world.policy, { ...state(world), present });
    const result = results.get(target);
    if (!result) {
      world.secrets.delete(target);
      continue;
    }
    const secret = new Map<string, WrittenEntry>();
    for (const [key, value] of Object.entries(result.data)) {
      const owner: EntryOwner = result.owners.get(key)!;
      secret.set(key, { ...owner, value });
    }
    world.secrets.set(target, secret);
  }
}

/** `current`: the merge saw the truth (a stale cache may still write a config deleted since; its finalizer would hold it). */
function checkStep(world: World, before: ReturnType<typeof ownersOf>, current: boolean): void {
  const after = ownersOf(world);
  const live = new Map([...world.configs.values()].map((c) => [c.metadata.uid!, c]));
  for (const [uid, was] of before) {
    const now = after.get(uid);
    if (!now) {
      assert.ok(
        world.deleted.has(uid),
        `the entry ${was.key} of live config ${uid} left ${was.target}`,
      );
      continue;
    }
    assert.equal(now.target, was.target, `${uid} moved from ${was.target} to ${now.target}`);
    if (now.entry.value !== was.entry.value) {
      // Only into the config's current generation.
      assert.equal(
        now.entry.generation,
        live.get(uid)?.metadata.generation,
        `${uid}'s entry changed to an old generation`,
      );
    }
  }
  // Entries of the truth's configs only, one per config, names and positions unique.
  const names = new Map<string, string>();
  for (const [target, secret] of world.secrets) {
    const positions = new Set<string>();
    for (const [key, entry] of secret) {
      if (current)
        assert.ok(live.has(entry.uid), `${target} holds ${key} for a config that is gone`);
      const position = key.slice(0, 10);
      assert.ok(!positions.has(position), `${target} holds position ${position} twice`);
      positions.add(position);
      for (const m of entry.value.matchAll(/^- name: (\S+)$/gm)) {
        const held = names.get(m[1]!);
        assert.ok(held === undefined, `backend name ${m[1]} is held by ${held} and ${entry.uid}`);
        names.set(m[1]!, entry.uid);
      }
    }
  }
}

function checkOutcomes(world: World): void {
  const configs = [...world.configs.values()];
  const results = mergeAll(configs, keysOf(world), world.policy, state(world));
  for (const c of configs) {
    const result = results.get(c.spec.targetSecret)!;
    const outcome = result.outcomes.get(`${c.metadata.namespace}/${c.metadata.name}`);
    assert.ok(outcome, `no outcome for ${c.metadata.name}`);
    if (outcome.state === 'Active') {
      const owner = result.owners.get(outcome.key!);
      assert.deepEqual(owner, { uid: c.metadata.uid, generation: c.metadata.generation });
    } else {
      assert.ok(outcome.reason.length > 0);
      assert.ok(!/u:p@/.test(outcome.reason), 'an endpoint in a reason');
      if (outcome.kept) assert.equal(result.owners.get(outcome.key!)?.uid, c.metadata.uid);
    }
  }
  // Determinism: the same inputs, the configs in reverse, give the same bytes and outcomes.
  const again = mergeAll(
    [...configs].reverse().map((c) => structuredClone(c)),
    keysOf(world),
    world.policy,
    state(world),
  );
  for (const [target, result] of results) {
    const other = again.get(target)!;
    assert.equal(JSON.stringify(other.data), JSON.stringify(result.data));
    assert.deepEqual([...other.outcomes].sort(), [...result.outcomes].sort());
  }
}

test('an entry leaves a Secret only with its config, through any sequence of events', () => {
  fc.assert(
    fc.property(
      fc.array(event, { minLength: 1, maxLength: 40 }),
      fc.array(fc.constantFrom(...TARGETS), { minLength: 3, maxLength: 3 }),
      (events, order) => {
        const world: World = {
          configs: new Map(),
          history: [],
          secrets: new Map(),
          keysPresent: new Set(NAMESPACES),
          policy: {
            ...basePolicy,
            allowedTargetSecrets: [...TARGETS],
            allowCrossNamespaceDecryptSecret: true,
          },
          deleted: new Set(),
          authorised: new Set(),
          clock: 0,
          uids: 0,
        };
        for (const e of events) {
          const before = ownersOf(world);
          const { lag } = apply(world, e);
          world.history.push(new Map(world.configs));
          // A stale cache sees the configs as they were `lag` steps ago.
          const seen = world.history[Math.max(0, world.history.length - 1 - lag)]!;
          reconcile(world, [...seen.values()], [...new Set([...order, ...TARGETS])]);
          checkStep(world, before, lag === 0);
          if (lag > 0) {
            // The cache catches up (a relist): reconciled again from the truth.
            const caughtUp = ownersOf(world);
            reconcile(world, [...world.configs.values()], TARGETS);
            checkStep(world, caughtUp, true);
          }
          checkOutcomes(world);
        }
      },
    ),
    { numRuns: 300 },
  );
});
