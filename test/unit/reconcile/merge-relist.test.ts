// A relist (a watch reset, a restarted informer) hands the reconciler new
// objects with the content it already merged: the merge must not validate
// and render them again, and must for an object whose content changed. Each
// merge is given the Secret the one before wrote, as the reconciler does:
// an entry already written is taken from there, not held or rendered again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mergeAll, type MergeResult } from '../../../src/reconcile/merge.ts';
import type { WrittenEntries } from '../../../src/reconcile/incumbents.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { renders } from '../../../src/secret-format/entry.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { backend, config, policy } from '../rules/fixtures.ts';

const noKeys: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };

function stored(i: number): TopologyConfig {
  const c = config({ name: `svc-${i}`, position: i + 1, backends: [backend(`svc-${i}-db`)] });
  c.metadata.uid = `uid-${i}`;
  c.metadata.resourceVersion = String(100 + i);
  c.metadata.generation = 1;
  return c;
}

/** What the Secrets hold once these results are written. */
function writtenBy(results: ReadonlyMap<string, MergeResult> | undefined): WrittenEntries {
  return new Map(
    [...(results ?? [])].map(([target, { data, owners }]) => [
      target,
      new Map(Object.entries(data).map(([key, value]) => [key, { value, ...owners.get(key)! }])),
    ]),
  );
}

/** Merges (given what the previous merge wrote) and counts the entries rendered meanwhile. */
function rendersOf(configs: TopologyConfig[], previous?: ReadonlyMap<string, MergeResult>) {
  const before = renders.count;
  const results = mergeAll(configs, noKeys, policy, { written: writtenBy(previous) });
  return {
    rendered: renders.count - before,
    data: [...results.values()].map((r) => r.data),
    results,
  };
}

test('a relist (new objects, same content) renders nothing again; a changed object is rendered again', () => {
  const listed = Array.from({ length: 20 }, (_, i) => stored(i));
  const first = rendersOf(listed);
  assert.equal(first.rendered, 20);

  const relisted = rendersOf(structuredClone(listed), first.results);
  assert.equal(relisted.rendered, 0);
  assert.deepEqual(relisted.data, first.data);

  const changed = structuredClone(listed);
  // A change an Active config may make (a route's change would keep its old entry).
  changed[3]!.spec.backends[0]!.connectionPool = { maxOpen: 7 };
  changed[3]!.metadata.resourceVersion = '999';
  changed[3]!.metadata.generation = 2;
  const after = rendersOf(changed, relisted.results);
  assert.equal(after.rendered, 1);
  assert.match(Object.values(after.data[0]!)[3]!, /maxOpen: 7/);
});

test('an object of the same uid and resourceVersion but other content is judged by its content', () => {
  // Objects built locally (an admission review, a test) can keep a stale resourceVersion.
  const original = stored(50);
  const first = rendersOf([original]);
  const edited = structuredClone(original);
  edited.spec.backends[0]!.connectionPool = { maxOpen: 8 };
  const after = rendersOf([edited], first.results);
  assert.equal(after.rendered, 1);
  assert.match(Object.values(after.data[0]!)[0]!, /maxOpen: 8/);
});

test('after a relist the merge keeps nothing of the objects it replaced', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const first = Array.from({ length: 20 }, (_, i) => stored(200 + i));
  const refs = first.map((c) => new WeakRef(c));
  const before = rendersOf(first);
  const relisted = structuredClone(first);
  first.length = 0;
  const after = rendersOf(relisted, before.results);
  assert.equal(after.rendered, 0);
  assert.deepEqual(after.data, before.data);
  // WeakRefs hold their targets until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.deepEqual(
    refs.filter((r) => r.deref() !== undefined).map((r) => r.deref()!.metadata.name),
    [],
  );
  assert.equal(relisted.length, 20);
});

test('a relisted object whose endpoints are refused is refused again, for the same reason', () => {
  const twice = stored(400);
  twice.spec.backends.push({
    ...structuredClone(twice.spec.backends[0]!),
    name: 'svc-400-db2',
    prefix: { prefix: '/registry/other/' },
  });
  const reasons = (configs: TopologyConfig[]) =>
    [...mergeAll(configs, noKeys, policy).values()].flatMap((r) =>
      [...r.outcomes.values()].map((o) => `${o.state} ${o.cause} ${o.reason}`),
    );
  const first = reasons([twice]);
  assert.match(first[0]!, /^Error Invalid .*endpoint/);
  assert.deepEqual(reasons([structuredClone(twice)]), first);
  assert.deepEqual(reasons([structuredClone(twice)]), first);
});

test('an entry the Secret holds is taken from there only while it is its rendering: one edited by hand is rendered again', () => {
  const configs = Array.from({ length: 3 }, (_, i) => stored(300 + i));
  const first = rendersOf(configs);
  const [target, result] = [...first.results][0]!;
  const [key, value] = Object.entries(result.data)[1]!;
  // Edited by hand, the same routes in other bytes of the same length (a
  // plain scalar's trailing space is not part of it).
  const edited = new Map(writtenBy(first.results).get(target)!.entries());
  const respelled = `${value.slice(0, -1)} `;
  assert.equal(respelled.length, value.length);
  edited.set(key, { ...edited.get(key)!, value: respelled });
  const before = renders.count;
  const again = mergeAll(structuredClone(configs), noKeys, policy, {
    written: new Map([[target, edited]]),
  });
  assert.equal(again.get(target)!.data[key], value);
  assert.equal(renders.count - before, 1, 'only the edited entry is rendered again');
});
