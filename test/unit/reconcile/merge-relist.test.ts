// A relist (a watch reset, a restarted informer) hands the reconciler new
// objects with the content it already merged: the merge must not validate
// and render them again, and must for an object whose content changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mergeAll } from '../../../src/reconcile/merge.ts';
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

/** Merges and counts the entries rendered meanwhile. */
function rendersOf(configs: TopologyConfig[]) {
  const before = renders.count;
  const results = mergeAll(configs, noKeys, policy);
  return { rendered: renders.count - before, data: [...results.values()].map((r) => r.data) };
}

test('a relist (new objects, same content) renders nothing again; a changed object is rendered again', () => {
  const listed = Array.from({ length: 20 }, (_, i) => stored(i));
  const first = rendersOf(listed);
  assert.equal(first.rendered, 20);

  const relisted = rendersOf(structuredClone(listed));
  assert.equal(relisted.rendered, 0);
  assert.deepEqual(relisted.data, first.data);

  const changed = structuredClone(listed);
  changed[3]!.spec.backends[0]!.prefix = { prefix: '/registry/moved/' };
  changed[3]!.metadata.resourceVersion = '999';
  changed[3]!.metadata.generation = 2;
  const after = rendersOf(changed);
  assert.equal(after.rendered, 1);
  assert.match(Object.values(after.data[0]!)[3]!, /prefix: \/registry\/moved\//);
});

test('an object of the same uid and resourceVersion but other content is judged by its content', () => {
  // Objects built locally (an admission review, a test) can keep a stale resourceVersion.
  const original = stored(50);
  rendersOf([original]);
  const edited = structuredClone(original);
  edited.spec.backends[0]!.prefix = { prefix: '/registry/edited/' };
  const after = rendersOf([edited]);
  assert.equal(after.rendered, 1);
  assert.match(Object.values(after.data[0]!)[0]!, /prefix: \/registry\/edited\//);
});

test('after a relist the merge keeps nothing of the objects it replaced', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const first = Array.from({ length: 20 }, (_, i) => stored(200 + i));
  const refs = first.map((c) => new WeakRef(c));
  const before = rendersOf(first);
  const relisted = structuredClone(first);
  first.length = 0;
  const after = rendersOf(relisted);
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
