// Property: a target's merge over the targets linked to it (linked.ts, to a
// fixpoint) is the merge over every config of the cluster, for that target.
// Random fleets over four targets, backend names shared between targets and
// unique ones, are merged once (their Secrets then hold incumbents), then
// changed: names and routes edited (with and without the override, so some
// entries are kept and hold names their configs no longer have), configs
// deleted, being deleted, created, hidden from the cache while the API
// server still has them (their entries held), sealed endpoints with key
// Secrets other configs may not route, and a replica restart (nothing
// remembered per object). Then every target is merged both ways.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encryptEndpoint } from '../../../src/crypto/aes-gcm.ts';
import type { WrittenEntries, WrittenEntry } from '../../../src/reconcile/incumbents.ts';
import { linkedTargets, writtenLinks, type Fleet } from '../../../src/reconcile/linked.ts';
import { mergeAll, mergeTarget, type MergeState } from '../../../src/reconcile/merge.ts';
import type { Backend, TopologyConfig } from '../../../src/resource/types.ts';
import { targetOf } from '../../../src/rules/policy.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { policy as basePolicy } from '../rules/fixtures.ts';

const TARGETS = ['shared/t0', 'shared/t1', 'shared/t2', 'shared/t3'] as const;
const SHARED = ['s0', 's1', 's2'] as const;
const KEY = Buffer.alloc(32, 7);
const policy = { ...basePolicy, allowedTargetSecrets: ['shared/*'] };
const keys: KeyLookup = {
  keysOf: (ref) =>
    ref.namespace === 'team-a' && ref.name === 'keys'
      ? { found: true, labeled: true, keys: [{ name: 'k', key: KEY }] }
      : { found: false, keys: [] },
};

interface BackendSpec {
  /** A shared name (index into SHARED), or the config's own. */
  shared: number | undefined;
  /** One of a few routes: two configs of a target may take the same one. */
  route: number;
  /** One of a few databases, likewise. */
  db: number;
}
interface ConfigSpec {
  target: number;
  position: number;
  backends: BackendSpec[];
  sealed: boolean;
}
type Change =
  | { kind: 'keep' }
  | { kind: 'rename'; backend: number; shared: number | undefined; override: boolean }
  | { kind: 'reroute'; route: number; override: boolean }
  | { kind: 'delete' }
  | { kind: 'deleting' }
  | { kind: 'hidden' }
  | { kind: 'move'; target: number; hidden: boolean; rename: boolean; merged: boolean };

const backendSpec: fc.Arbitrary<BackendSpec> = fc.record({
  shared: fc.option(fc.nat({ max: SHARED.length - 1 }), { nil: undefined }),
  route: fc.nat({ max: 5 }),
  db: fc.nat({ max: 5 }),
});
const configSpec: fc.Arbitrary<ConfigSpec> = fc.record({
  target: fc.nat({ max: TARGETS.length - 1 }),
  position: fc.integer({ min: 1, max: 4 }),
  backends: fc.array(backendSpec, { minLength: 1, maxLength: 2 }),
  sealed: fc.boolean(),
});
const change: fc.Arbitrary<Change> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'keep' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('rename' as const),
      backend: fc.nat({ max: 1 }),
      shared: fc.option(fc.nat({ max: SHARED.length - 1 }), { nil: undefined }),
      override: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reroute' as const),
      route: fc.nat({ max: 5 }),
      override: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'deleting' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hidden' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('move' as const),
      target: fc.nat({ max: TARGETS.length - 1 }),
      hidden: fc.boolean(),
      rename: fc.boolean(),
      merged: fc.boolean(),
    }),
  },
);

// A route that takes the key Secrets of team-a: refused only while a config names one.
const ROUTES = ['a', 'b', 'c', 'd', 'e'];
const routeOf = (route: number) =>
  route < ROUTES.length
    ? { prefix: { prefix: `/registry/${ROUTES[route]}/` } }
    : { namespace: { namespace: 'team-a', kinds: ['secrets'] } };

// A config's second backend takes the next route, database and shared name: not its first's.
function backendOf(spec: BackendSpec, own: string, i: number, sealed: boolean): Backend {
  const endpoint = `mysql://u:p@tcp(db-${(spec.db + i) % 6}:3306)/kine`;
  return {
    name: spec.shared === undefined ? `${own}-${i}` : SHARED[(spec.shared + i) % SHARED.length]!,
    endpoint: sealed ? encryptEndpoint(KEY, endpoint) : endpoint,
    ...routeOf((spec.route + i) % 6),
  };
}

function configOf(spec: ConfigSpec, i: number): TopologyConfig {
  const name = `c${i}`;
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: {
      namespace: 'team-a',
      name,
      uid: `uid-${i}`,
      generation: 1,
      creationTimestamp: new Date(Date.UTC(2025, 0, 1) + (i % 5) * 1000).toISOString(),
    },
    spec: {
      targetSecret: TARGETS[spec.target]!,
      position: spec.position,
      backends: spec.backends.map((b, j) => backendOf(b, name, j, spec.sealed)),
      ...(spec.sealed ? { endpointDecryptSecret: 'team-a/keys' } : {}),
    },
  };
}

function changed(c: TopologyConfig, backends: Backend[], override: boolean): TopologyConfig {
  return {
    ...c,
    metadata: {
      ...c.metadata,
      generation: c.metadata.generation! + 1,
      annotations: override ? { 'harikube.info/allow-unsafe-routing-change': 'true' } : {},
    },
    spec: { ...c.spec, backends },
  };
}

/** Moved to another target (renamed too: its old entry holds other names). */
function movedOf(c: TopologyConfig, e: Extract<Change, { kind: 'move' }>): TopologyConfig {
  const backends = e.rename
    ? c.spec.backends.map((b, i) => ({ ...b, name: `${c.metadata.name}-m${i}` }))
    : c.spec.backends;
  return { ...c, spec: { ...c.spec, targetSecret: TARGETS[e.target]!, backends } };
}

function apply(c: TopologyConfig, e: Change): TopologyConfig | 'gone' | 'hidden' {
  if (e.kind === 'move') return movedOf(c, e);
  const backends = c.spec.backends;
  switch (e.kind) {
    case 'keep':
      return c;
    case 'rename': {
      const i = Math.min(e.backend, backends.length - 1);
      const name = e.shared === undefined ? `${c.metadata.name}-r${i}` : SHARED[e.shared]!;
      return changed(
        c,
        backends.map((b, j) => (j === i ? { ...b, name } : b)),
        e.override,
      );
    }
    case 'reroute':
      return changed(
        c,
        [{ ...backends[0]!, ...routeOf(e.route) }, ...backends.slice(1)],
        e.override,
      );
    case 'delete':
      return 'gone';
    case 'deleting':
      return { ...c, metadata: { ...c.metadata, deletionTimestamp: '2025-02-01T00:00:00Z' } };
    case 'hidden':
      return 'hidden';
  }
  return c;
}

const secretsOf = (
  results: Map<
    string,
    { data: Record<string, string>; owners: Map<string, { uid: string; generation: number }> }
  >,
) =>
  new Map(
    [...results].map(([target, result]) => [
      target,
      new Map<string, WrittenEntry>(
        Object.entries(result.data).map(([key, value]) => [
          key,
          { ...result.owners.get(key)!, value },
        ]),
      ),
    ]),
  );

interface Fleetwide {
  configs: TopologyConfig[];
  written: WrittenEntries;
  present: Set<string>;
}

/** A fleet merged once, then changed. */
function fleetOf(
  specs: ConfigSpec[],
  changes: Change[],
  newcomers: ConfigSpec[],
  restart: boolean,
): Fleetwide {
  const first = specs.map(configOf);
  const written = secretsOf(mergeAll(first, keys, policy, {}));
  const configs: TopologyConfig[] = [];
  // Owners the API server has though the configs given do not show them there.
  const present = new Set<string>();
  first.forEach((c, i) => {
    const e = changes[i] ?? { kind: 'keep' };
    const next = apply(c, e);
    if (e.kind === 'move') {
      // The old target still holds its entry; the new one may have merged it since.
      const moved = movedOf(c, e);
      const to = moved.spec.targetSecret;
      const alone = mergeTarget(to, [moved], keys, policy);
      if (e.merged) {
        const secret = new Map(written.get(to) ?? []);
        for (const [key, value] of Object.entries(alone.data))
          secret.set(key, { ...alone.owners.get(key)!, value });
        written.set(to, secret);
      }
      // The API server has it: a reconcile of its old target finds it there.
      present.add(c.metadata.uid!);
      if (e.hidden) return;
    }
    if (next === 'hidden') present.add(c.metadata.uid!);
    else if (next !== 'gone') configs.push(restart ? structuredClone(next) : next);
  });
  newcomers.forEach((spec, i) => configs.push(configOf(spec, specs.length + i)));
  return { configs, written, present };
}

type Closure = (target: string, fleet: Fleet) => Set<string>;

/** Whether every target's merge over `closure` of it equals its merge over every config. */
function agrees(world: Fleetwide, closure: Closure, withCluster = true): boolean {
  const byTarget = new Map<string, TopologyConfig[]>();
  for (const c of world.configs) {
    const t = targetOf(c, policy);
    byTarget.set(t, [...(byTarget.get(t) ?? []), c]);
  }
  const byUid = new Map(world.configs.map((c) => [c.metadata.uid!, c]));
  const entries = new Map(
    [...world.written].map(([t, secret]) => [t, writtenLinks(secret, (uid) => byUid.get(uid))]),
  );
  const state: MergeState = { written: world.written, present: world.present };
  for (const target of TARGETS) {
    const all = mergeTarget(target, world.configs, keys, policy, state);
    const linked = closure(target, { configs: byTarget, entries });
    const part = mergeTarget(
      target,
      world.configs.filter((c) => linked.has(targetOf(c, policy))),
      keys,
      policy,
      {
        ...state,
        written: new Map([...world.written].filter(([t]) => linked.has(t))),
        ...(withCluster ? { cluster: world.configs } : {}),
      },
    );
    try {
      assert.deepEqual(part, all);
    } catch {
      return false;
    }
  }
  return true;
}

const fleets = fc
  .record({
    specs: fc.array(configSpec, { minLength: 1, maxLength: 14 }),
    changes: fc.array(change, { maxLength: 14 }),
    newcomers: fc.array(configSpec, { maxLength: 4 }),
    restart: fc.boolean(),
  })
  .map(({ specs, changes, newcomers, restart }) => fleetOf(specs, changes, newcomers, restart));

test("a target's merge over the targets linked to it is its merge over every config", () => {
  fc.assert(
    fc.property(fleets, (world) => {
      assert.ok(agrees(world, linkedTargets));
    }),
    { numRuns: 400 },
  );
});

test('the property fails when the closure leaves out a linked target', () => {
  const alone: Closure = (target) => new Set([target]);
  // Only the targets linked to it directly (no fixpoint).
  const direct: Closure = (target, fleet) => {
    const near = new Set([target]);
    for (const t of linkedTargets(target, fleet)) {
      const pair: Fleet = {
        configs: new Map([...fleet.configs].filter(([k]) => k === t || k === target)),
        entries: new Map([...fleet.entries].filter(([k]) => k === t || k === target)),
      };
      if (linkedTargets(target, pair).has(t)) near.add(t);
    }
    return near;
  };
  // Links by the configs' names only, or by names only (no owners' uids).
  const without =
    (drop: 'names' | 'uids'): Closure =>
    (target, fleet) =>
      linkedTargets(target, {
        configs: fleet.configs,
        entries: new Map(
          [...fleet.entries].map(([t, links]) => [
            t,
            { names: drop === 'names' ? [] : links.names, uids: drop === 'uids' ? [] : links.uids },
          ]),
        ),
      });
  const cases: [string, (world: Fleetwide) => boolean][] = [
    ['the target alone', (w) => agrees(w, alone)],
    ['direct links only', (w) => agrees(w, direct)],
    ["no links by entries' names", (w) => agrees(w, without('names'))],
    ["no links by owners' uids", (w) => agrees(w, without('uids'))],
    ["the closure's key Secrets only", (w) => agrees(w, linkedTargets, false)],
  ];
  for (const [what, holds] of cases) {
    // A fixed seed: each of these fails in a few fleets of a thousand.
    const run = fc.check(fc.property(fleets, holds), { numRuns: 3000, seed: 19 });
    assert.ok(run.failed, `${what}: went unnoticed`);
  }
});
