// The entries a Secret holds are read back (YAML) to judge their configs'
// changes against. An entry that is its config's current rendering is known
// without reading it, once it is checked to read back as the objects it was
// written from (an entry that would read back otherwise is judged as read).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WrittenEntry } from '../../../src/reconcile/incumbents.ts';
import {
  entryNames,
  entryReads,
  mergeAll,
  type MergeResult,
} from '../../../src/reconcile/merge.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import type { KeyLookup } from '../../../src/rules/view.ts';
import { renders } from '../../../src/secret-format/entry.ts';
import { backend, config, policy } from '../rules/fixtures.ts';

const noKeys: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };

function stored(i: number, kinds: string[] = ['pods']): TopologyConfig {
  const c = config({
    name: `svc-${i}`,
    position: i + 1,
    backends: [
      backend(`svc-${i}-db`, { prefix: undefined, namespace: { namespace: `ns-${i}`, kinds } }),
    ],
  });
  c.metadata.uid = `entries-uid-${i}`;
  c.metadata.resourceVersion = String(300 + i);
  c.metadata.generation = 1;
  c.status = { deployStatus: 'Active', observedGeneration: 1 } as TopologyConfig['status'];
  return c;
}

/** What the Secrets hold after `results`, as read from the API server (strings of their own). */
function written(
  results: ReadonlyMap<string, MergeResult>,
): Map<string, Map<string, WrittenEntry>> {
  return new Map(
    [...results].map(([target, r]) => [
      target,
      new Map(
        [...r.owners].map(([key, owner]) => [
          key,
          { ...owner, value: JSON.parse(JSON.stringify(r.data[key])) as string },
        ]),
      ),
    ]),
  );
}

/** Merges against what `before` wrote; counts the entries read back meanwhile. */
function again(configs: TopologyConfig[], before: ReadonlyMap<string, MergeResult>) {
  const reads = entryReads.count;
  const results = mergeAll(configs, noKeys, policy, { written: written(before) });
  return { results, reads: entryReads.count - reads };
}

const outcomes = (results: ReadonlyMap<string, MergeResult>) =>
  [...results.values()].flatMap((r) =>
    [...r.outcomes].map(([k, o]) => `${k} ${o.state} ${o.cause}`),
  );

test('entries that are their configs’ current renderings are read back once, then not again', () => {
  const configs = Array.from({ length: 10 }, (_, i) => stored(i));
  const first = mergeAll(configs, noKeys, policy);
  const second = again(configs, first);
  assert.ok(second.reads <= 10, `${second.reads} entries read`);
  const third = again(configs, second.results);
  const fourth = again(configs, third.results);
  assert.equal(third.reads + fourth.reads, 0);
  assert.deepEqual(outcomes(fourth.results), outcomes(first));
  assert.deepEqual(
    [...fourth.results.values()].map((r) => r.data),
    [...first.values()].map((r) => r.data),
  );
});

test('a value YAML 1.2 reads as a number (0o17) is written quoted, so its entry reads back as written', () => {
  // Rendered plain (YAML 1.1's rules), 0o17 read back as the number 15: the
  // selector then routed other kinds than the config's, and the merge kept
  // the config in Error (KeptInSecret) on every pass.
  const odd = stored(50, ['0o17']);
  const first = mergeAll([odd], noKeys, policy);
  const second = again([odd], first);
  const third = again([odd], second.results);
  const fourth = again([odd], third.results);
  assert.deepEqual(outcomes(first), ['team-a/svc-50 Active Active']);
  for (const pass of [second, third, fourth])
    assert.deepEqual(outcomes(pass.results), ['team-a/svc-50 Active Active']);
  assert.equal(third.reads + fourth.reads, 0);
});

test('once entries are known from their configs, a changed route is still judged against the entry', () => {
  const configs = Array.from({ length: 3 }, (_, i) => stored(60 + i));
  let results = mergeAll(configs, noKeys, policy);
  for (let round = 0; round < 3; round++) results = again(configs, results).results;
  const changed = structuredClone(configs);
  changed[1]!.spec.backends[0]!.namespace = { namespace: 'ns-61', kinds: ['secrets'] };
  changed[1]!.metadata.generation = 2;
  changed[1]!.metadata.resourceVersion = '999';
  const after = again(changed, results);
  assert.deepEqual(outcomes(after.results), [
    'team-a/svc-60 Active Active',
    'team-a/svc-61 Error KeptInSecret',
    'team-a/svc-62 Active Active',
  ]);
  assert.deepEqual(
    [...after.results.values()].map((r) => r.data),
    [...results.values()].map((r) => r.data),
    'the entry written for generation 1 stays as it was',
  );
});

test("the reconciler's own status writes (a new resourceVersion and status) make no entry read back or rendered again", () => {
  const configs = Array.from({ length: 10 }, (_, i) => stored(80 + i));
  let results = mergeAll(configs, noKeys, policy);
  results = again(configs, results).results;
  // As the API server answers a status PATCH: the same spec, a new version and status.
  const written = configs.map((c) => {
    const next = structuredClone(c);
    next.metadata.resourceVersion = String(Number(c.metadata.resourceVersion) + 1000);
    next.status = {
      ...next.status,
      deployStatusReason: 'merged',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Active',
          message: 'merged',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    } as TopologyConfig['status'];
    return next;
  });
  const rendersBefore = renders.count;
  const after = again(written, results);
  assert.equal(after.reads, 0, 'entries read back');
  assert.equal(renders.count - rendersBefore, 0, 'entries rendered');
  assert.deepEqual(outcomes(after.results), outcomes(results));
  assert.deepEqual(
    [...after.results.values()].map((r) => r.data),
    [...results.values()].map((r) => r.data),
  );
});

test('after a status write, an entry that is its config’s rendering gives its backend names without being read back', () => {
  // The reconciler reads the links of every entry before it merges, so
  // before the new objects its status writes brought are prepared.
  const configs = Array.from({ length: 10 }, (_, i) => stored(120 + i));
  const results = again(configs, mergeAll(configs, noKeys, policy)).results;
  const entries = [...written(results).values()].flatMap((secret) => [...secret.values()]);
  const statusWritten = new Map(
    configs.map((c) => {
      const next = structuredClone(c);
      next.metadata.resourceVersion = String(Number(c.metadata.resourceVersion) + 1000);
      next.status = { ...next.status, deployStatusReason: 'merged' } as TopologyConfig['status'];
      return [next.metadata.uid!, next];
    }),
  );
  const reads = entryReads.count;
  const names = entries.map((e) => entryNames(statusWritten.get(e.uid), e.value));
  assert.equal(entryReads.count - reads, 0, 'entries read back');
  assert.deepEqual(
    names,
    entries.map((e) => [`svc-${Number(e.uid.split('-').pop())}-db`]),
  );
  const changed = structuredClone(statusWritten.get(entries[0]!.uid)!);
  changed.spec.backends[0]!.name = 'renamed-db';
  assert.deepEqual(
    entryNames(changed, entries[0]!.value),
    names[0],
    'a changed spec is not its entry: the entry is read for what it holds',
  );
  assert.equal(entryReads.count - reads, 1);
});
