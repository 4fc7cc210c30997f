// Benchmark 4a: the live heap per config, in process, of what the server
// keeps for each TopologyConfig: the object as the informer caches it (with
// the conditions its status writes leave), the
// ConfigIndex the webhook judges against, what the merge remembers (verdicts,
// facts, renderings), and all of it again after a relist (new objects of the
// same content). Each size runs in its own process (the memos are module
// state) and every figure is the heap in use after full collections, so it
// counts what stays, not what a phase allocated. bench/memory.ts measures the
// real server; this one says where its bytes per config go.
//   npx node bench/heap.ts [--quick]
import { execFileSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mergeAll, type MergeResult } from '../src/reconcile/merge.ts';
import type { WrittenEntry } from '../src/reconcile/incumbents.ts';
import type { TopologyConfig } from '../src/resource/types.ts';
import { ConfigIndex } from '../src/rules/config-index.ts';
import { keepConfigFields } from '../src/kube/secret-cache.ts';
import { conditionsFor } from '../src/reconcile/conditions.ts';
import { secretKeyFor } from '../src/secret-format/entry.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import { benchPolicy, fleet } from './lib/configs.ts';
import { heading, writeResults } from './lib/report.ts';
import { int, table } from './lib/stats.ts';

export const HEAP_SIZES = [1_000, 10_000] as const;

export interface HeapRow {
  configs: number;
  /** Bytes of live heap per config, by what holds them. */
  objectBytes: number;
  indexBytes: number;
  mergeBytes: number;
  /** Everything after a relist (the first objects dropped, new ones of the same content held). */
  afterRelistBytes: number;
}

export interface HeapResults {
  rows: HeapRow[];
}

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    for (let i = 0; i < 4; i++) gc();
  };
}

const WRITTEN = new Date('2026-01-01T00:00:00Z');

/** The fleet as the reconciler's status writes leave it: conditions on every config. */
function withConditions(configs: readonly TopologyConfig[]): TopologyConfig[] {
  return configs.map((c) => {
    const active = c.status?.deployStatus === 'Active';
    const input = {
      deployStatus: active ? ('Active' as const) : ('Pending' as const),
      reason: active ? ('Active' as const) : ('Pending' as const),
      message: active ? `merged into ${c.spec.targetSecret} as ${secretKeyFor(c)}` : '',
    };
    const conditions = conditionsFor(input, c.metadata.generation, undefined, WRITTEN);
    return { ...c, status: { ...c.status, conditions } } as TopologyConfig;
  });
}

/** Objects as the informer hands them on: parsed from JSON, slimmed as the cache slims them. */
function listed(configs: readonly TopologyConfig[]): TopologyConfig[] {
  const objects = JSON.parse(JSON.stringify(configs)) as TopologyConfig[];
  for (const object of objects) keepConfigFields(object);
  return objects;
}

type Written = Map<string, Map<string, WrittenEntry>>;

/**
 * What each target Secret holds after a merge, with its owners, as a Secret
 * read from the API server gives it (strings of its own).
 */
function writtenOf(results: ReadonlyMap<string, MergeResult>): Written {
  const out: Written = new Map();
  for (const [target, result] of results) {
    const entries = new Map<string, WrittenEntry>();
    for (const [key, owner] of result.owners) {
      const value = JSON.parse(JSON.stringify(result.data[key]!)) as string;
      entries.set(key, { ...owner, value });
    }
    out.set(target, entries);
  }
  return out;
}

/** One size, in this process. */
export function measureHeap(n: number): HeapRow {
  const gc = collector();
  const used = () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  const source = withConditions(fleet(n));
  const start = used();
  let objects = listed(source);
  const afterObjects = used();
  const index = new ConfigIndex();
  for (const object of objects) index.upsert(object);
  const afterIndex = used();
  // The reconciler merges every config for each target, against the entries
  // the Secrets hold (decoded afresh each time); the result is written and dropped.
  const reconcile = () =>
    mergeAll(objects, index, benchPolicy, {
      written: writtenOf(mergeAll(objects, index, benchPolicy)),
    });
  reconcile();
  const afterMerge = used();
  objects = listed(source);
  for (const object of objects) index.upsert(object);
  reconcile();
  const afterRelist = used();
  const perConfig = (bytes: number) => Math.round(bytes / n);
  // Keep both alive up to here: the figures are of what they hold.
  if (index.size !== objects.length) throw new Error('the index lost configs');
  return {
    configs: n,
    objectBytes: perConfig(afterObjects - start),
    indexBytes: perConfig(afterIndex - afterObjects),
    mergeBytes: perConfig(afterMerge - afterIndex),
    afterRelistBytes: perConfig(afterRelist - start),
  };
}

export function runHeap(quick: boolean): HeapResults {
  const sizes = quick ? [1_000] : HEAP_SIZES;
  const rows = sizes.map((n) => {
    const out = execFileSync(process.execPath, [import.meta.filename, '--child', String(n)], {
      encoding: 'utf8',
    });
    const row = JSON.parse(out) as HeapRow;
    log(`${int(n)} configs: ${int(row.afterRelistBytes)} B of live heap per config after a relist`);
    return row;
  });
  return { rows };
}

export function printHeap(r: HeapResults): void {
  heading('Live heap per config, in process (bytes, after full collections)');
  console.log(
    table(
      ['configs', 'cached object', 'index', 'merge memo', 'all, after a relist', 'all, MiB'],
      r.rows.map((row) => [
        int(row.configs),
        int(row.objectBytes),
        int(row.indexBytes),
        int(row.mergeBytes),
        int(row.afterRelistBytes),
        ((row.afterRelistBytes * row.configs) / 2 ** 20).toFixed(1),
      ]),
    ),
  );
}

if (import.meta.main) {
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    process.stdout.write(JSON.stringify(measureHeap(Number(process.argv[child + 1]))));
  } else {
    const flags = benchFlags();
    printMachine();
    const results = runHeap(flags.quick);
    printHeap(results);
    console.log(`\nwrote ${writeResults('heap', results)}`);
  }
}
