// Benchmark 3a: the reconciler's merge and render (mergeTarget: validation,
// conflict resolution, ordering and the YAML of every entry) for 10, 1,000
// and 5,000 configs spread over the fleet's target Secrets, against a
// baseline measured in the same run: rendering the same configs' YAML and
// nothing else (renderEntry of each), the least any merge must do. Three
// cases side by side: configs never seen (a first start, and what every relist
// cost while renderings were remembered per object), a relist (new objects of
// the same uids and content, remembered by content, indexed first as the
// informer does) and the same objects again; and the relist as the
// reconciler merges it now: only the targets linked to its own by a backend
// name (linked.ts; the fleet's names are unique, so its own alone), finding
// them included. A merge of configs already merged is given the Secret the
// first merge wrote, as the reconciler (which reads it each time) is: its
// entries are taken from there, not rendered again.
//   npx node bench/merge.ts [--quick]
import { linkedTargets } from '../src/reconcile/linked.ts';
import {
  mergeAll,
  mergeTarget,
  type MergeResult,
  type MergeState,
} from '../src/reconcile/merge.ts';
import { targetOf as targetOfConfig } from '../src/rules/policy.ts';
import { renderEntry } from '../src/secret-format/entry.ts';
import { ConfigIndex } from '../src/rules/config-index.ts';
import type { TopologyConfig } from '../src/resource/types.ts';
import type { KeyLookup } from '../src/rules/view.ts';
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import { TARGETS, benchPolicy, fleet, targetOf } from './lib/configs.ts';
import { heading, writeResults } from './lib/report.ts';
import { int, median, ms, ratio, table } from './lib/stats.ts';

export const SIZES = [10, 1000, 5000] as const;

const NO_KEYS: KeyLookup = { keysOf: () => ({ found: false, keys: [] }) };

export interface MergeRow {
  configs: number;
  /** Configs in the merged target (the fleet spreads them over TARGETS Secrets). */
  configsInTarget: number;
  runs: number;
  /** mergeTarget of one target, given every config (the reconciler's call), all configs never seen. */
  mergeTargetMs: number;
  /** The same after a relist: new objects, the uids and content already merged. */
  mergeTargetRelistMs: number;
  /** The relist merged as the reconciler does: the linked targets' configs only (finding them included). */
  mergeLinkedRelistMs: number;
  /** The same again on the same objects: a reconcile in steady state (renderings remembered). */
  mergeTargetRepeatMs: number;
  /** mergeAll: every target at once. */
  mergeAllMs: number;
  /** renderEntry of every config, nothing else: the baseline. */
  renderOnlyMs: number;
  mergeTargetPerConfigMicros: number;
  activeInTarget: number;
  dataBytes: number;
}

export interface MergeResults {
  targets: number;
  rows: MergeRow[];
}

let generation = 0;

/** A deep copy under new uids: content the merge has never seen. */
function unseen(configs: readonly TopologyConfig[]): TopologyConfig[] {
  const copy = structuredClone(configs) as TopologyConfig[];
  const suffix = `-${++generation}`;
  for (const c of copy) c.metadata.uid = `${c.metadata.uid ?? ''}${suffix}`;
  return copy;
}

/**
 * New objects of the same content, as a relist brings them, indexed as the
 * informer indexes them before the reconciler merges (the merge derives no
 * facts the index already derived).
 */
function relisted(configs: readonly TopologyConfig[]): TopologyConfig[] {
  const copy = structuredClone(configs) as TopologyConfig[];
  const index = new ConfigIndex();
  for (const c of copy) index.upsert(c);
  return copy;
}

/**
 * Median wall time of `runs` calls, each on its own copy of `configs` (made
 * before timing): `copy` says what the merge has seen of it before.
 */
function timeFresh(
  runs: number,
  configs: readonly TopologyConfig[],
  fn: (configs: readonly TopologyConfig[]) => unknown,
  copy: (configs: readonly TopologyConfig[]) => TopologyConfig[] = unseen,
): number {
  const copies = Array.from({ length: runs + 1 }, () => copy(configs));
  fn(copies[runs]!);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn(copies[i]!);
    times.push(performance.now() - started);
  }
  return median(times);
}

/** What the target Secrets hold once `results` are written. */
function writtenBy(results: ReadonlyMap<string, MergeResult>): MergeState {
  const written = [...results].map(([target, { data, owners }]) => {
    const entries = Object.entries(data).map(
      ([key, value]) => [key, { value, ...owners.get(key)! }] as const,
    );
    return [target, new Map(entries)] as const;
  });
  return { written: new Map(written) };
}

/** The reconciler's merge: the targets linked to `target` found, and only their configs merged. */
function mergeLinked(target: string, configs: readonly TopologyConfig[], state: MergeState) {
  const byTarget = new Map<string, TopologyConfig[]>();
  for (const c of configs) {
    const t = targetOfConfig(c, benchPolicy);
    byTarget.set(t, [...(byTarget.get(t) ?? []), c]);
  }
  const linked = linkedTargets(target, { configs: byTarget, entries: new Map() });
  const mine = [...linked].flatMap((t) => byTarget.get(t) ?? []);
  return mergeTarget(target, mine, NO_KEYS, benchPolicy, { ...state, cluster: configs });
}

/** Median wall time of `runs` calls after one warm-up call. */
function timeIt(runs: number, fn: () => unknown): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  return median(times);
}

function renderAll(configs: readonly TopologyConfig[]): number {
  let bytes = 0;
  for (const c of configs)
    bytes += renderEntry(
      c,
      c.spec.backends.map((b) => b.endpoint),
    ).length;
  return bytes;
}

export function runMerge(flags: BenchFlags): MergeResults {
  const runs = flags.quick ? 3 : 9;
  const rows = SIZES.map((n): MergeRow => {
    const configs = fleet(n);
    const target = targetOf(0);
    const once = mergeTarget(target, configs, NO_KEYS, benchPolicy);
    const active = [...once.outcomes.values()].filter((o) => o.state === 'Active').length;
    const errors = [...once.outcomes.values()].filter((o) => o.state === 'Error');
    if (errors.length > 0)
      throw new Error(`the fleet should merge cleanly, but: ${errors[0]!.reason}`);
    const written = writtenBy(mergeAll(configs, NO_KEYS, benchPolicy));
    const row: MergeRow = {
      configs: n,
      configsInTarget: once.outcomes.size,
      runs,
      mergeTargetMs: timeFresh(runs, configs, (c) => mergeTarget(target, c, NO_KEYS, benchPolicy)),
      mergeTargetRelistMs: timeFresh(
        runs,
        configs,
        (c) => mergeTarget(target, c, NO_KEYS, benchPolicy, written),
        relisted,
      ),
      mergeLinkedRelistMs: timeFresh(
        runs,
        configs,
        (c) => mergeLinked(target, c, written),
        relisted,
      ),
      mergeTargetRepeatMs: timeIt(runs, () =>
        mergeTarget(target, configs, NO_KEYS, benchPolicy, written),
      ),
      mergeAllMs: timeFresh(runs, configs, (c) => mergeAll(c, NO_KEYS, benchPolicy)),
      renderOnlyMs: timeIt(runs, () => renderAll(configs)),
      mergeTargetPerConfigMicros: 0,
      activeInTarget: active,
      dataBytes: Object.entries(once.data).reduce((sum, [k, v]) => sum + k.length + v.length, 0),
    };
    row.mergeTargetPerConfigMicros = (row.mergeTargetMs * 1000) / n;
    log(
      `${n} configs: mergeTarget ${row.mergeTargetMs.toFixed(1)} ms (relist ${row.mergeTargetRelistMs.toFixed(1)} ms, linked targets only ${row.mergeLinkedRelistMs.toFixed(1)} ms, again ${row.mergeTargetRepeatMs.toFixed(1)} ms), mergeAll ${row.mergeAllMs.toFixed(1)} ms, render only ${row.renderOnlyMs.toFixed(1)} ms`,
    );
    return row;
  });
  return { targets: TARGETS, rows };
}

export function printMerge(r: MergeResults): void {
  heading(
    `Merge and render (all configs given, spread over ${r.targets} target Secrets; median of ${r.rows[0]?.runs ?? 0} runs)`,
  );
  const base = r.rows[0]!;
  console.log(
    table(
      [
        'configs',
        'in the target',
        'mergeTarget, never seen ms',
        'relist: new objects, same content ms',
        'relist × never seen',
        'relist, linked targets only ms',
        'again, same objects ms',
        'µs/config',
        'µs/config × at 10',
        'mergeAll ms',
        'render only ms',
        'mergeAll × render only',
        'Secret data bytes',
      ],
      r.rows.map((row) => [
        int(row.configs),
        int(row.configsInTarget),
        ms(row.mergeTargetMs),
        ms(row.mergeTargetRelistMs),
        ratio(row.mergeTargetRelistMs / row.mergeTargetMs),
        ms(row.mergeLinkedRelistMs),
        ms(row.mergeTargetRepeatMs),
        ms(row.mergeTargetPerConfigMicros),
        ratio(row.mergeTargetPerConfigMicros / base.mergeTargetPerConfigMicros),
        ms(row.mergeAllMs),
        ms(row.renderOnlyMs),
        ratio(row.mergeAllMs / row.renderOnlyMs),
        int(row.dataBytes),
      ]),
    ),
  );
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = runMerge(flags);
  printMerge(results);
  console.log(`\nwrote ${writeResults('merge', results)}`);
}
