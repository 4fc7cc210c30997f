// Benchmark 2: admission at 10, 1,000 and 10,000 configs in the index (the
// fleet of bench/lib/configs.ts, spread over 8 target Secrets), side by side
// with the no-op ceiling: p99 at 500 requests/s, maximum throughput, and the
// server's memory at each size. The product logs at info (to /dev/null), as
// in production. Per-review cost must stay flat: indexes, not scans.
//   npx node bench/scaling.ts [--quick] [--cpu-prof]
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import type { ContenderResult } from './lib/compare.ts';
import { compare, roundLengths } from './lib/compare.ts';
import { heading, writeResults } from './lib/report.ts';
import { benchReviews } from './lib/reviews.ts';
import type { ServerProcess } from './lib/servers.ts';
import { benchTls, startServer } from './lib/servers.ts';
import { int, mib, ms, ratio, table } from './lib/stats.ts';

export const SIZES = [10, 1000, 10_000] as const;
export const RATE = 500;

export interface ScalingRow extends ContenderResult {
  configs: number;
}

export interface ScalingResults {
  rate: number;
  connections: number;
  noop: ContenderResult;
  rows: ScalingRow[];
  ratios: {
    /** p99 at the fixed rate (paced evenly), 10,000 configs / 10 configs (target ≤ 1.5). */
    p99At10kOver10: number;
    throughputAt10kOver10: number;
  };
}

export async function runScaling(flags: BenchFlags): Promise<ScalingResults> {
  const { caPem, serving } = benchTls();
  const servers: ServerProcess[] = [];
  try {
    const noop = await startServer({
      mode: 'noop',
      configs: 0,
      log: 'silent',
      tls: serving,
      cpuProfileDir: flags.cpuProfileDir,
    });
    servers.push(noop);
    const products: ServerProcess[] = [];
    for (const n of SIZES) {
      log(`indexing ${int(n)} configs`);
      const server = await startServer({
        mode: 'product',
        configs: n,
        log: 'info',
        tls: serving,
        cpuProfileDir: flags.cpuProfileDir,
      });
      servers.push(server);
      products.push(server);
    }
    const connections = 10;
    const results = await compare(
      [
        { label: 'no-op fastify', server: noop, requests: benchReviews(1000), check: false },
        ...SIZES.map((n, i) => ({
          label: `product, ${int(n)} configs`,
          server: products[i]!,
          requests: benchReviews(n),
          check: true,
        })),
      ],
      {
        caPem,
        ...roundLengths(flags.quick),
        connections,
        rate: RATE,
        log,
      },
    );
    const rows = results.slice(1).map((r, i) => ({ ...r, configs: SIZES[i]! }));
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    return {
      rate: RATE,
      connections,
      noop: results[0]!,
      rows,
      ratios: {
        p99At10kOver10: last.paced.p99Ms / first.paced.p99Ms,
        throughputAt10kOver10: last.max.requestsPerSecond / first.max.requestsPerSecond,
      },
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export function printScaling(r: ScalingResults): void {
  heading(
    `Scaling with the number of configs in the index (log at info → /dev/null; ${r.connections} connections for throughput)`,
  );
  const first = r.rows[0]!;
  const all = [r.noop, ...r.rows];
  console.log(
    table(
      [
        'server',
        `p50 @${r.rate}/s ms`,
        `p99 @${r.rate}/s ms`,
        'p99 × 10 configs',
        'sender lag p99 ms',
        'max req/s',
        '× no-op',
        'CPU µs/review',
        'RSS MiB',
        'heap MiB',
        'index build ms',
      ],
      all.map((s) => [
        s.label,
        ms(s.paced.p50Ms),
        ms(s.paced.p99Ms),
        s === r.noop ? '' : ratio(s.paced.p99Ms / first.paced.p99Ms),
        ms(s.paced.sendLagP99Ms),
        int(s.max.requestsPerSecond),
        ratio(s.max.requestsPerSecond / r.noop.max.requestsPerSecond),
        int(s.cpuMicrosPerReview),
        mib(s.idleMemory.rssBytes),
        mib(s.idleMemory.heapUsedBytes),
        s === r.noop ? '' : int(s.indexMs),
      ]),
    ),
  );
  console.log(
    `\np50/p99 @${r.rate}/s: evenly paced open-loop load (autocannon overallRate p99 for comparison: ${all.map((s) => `${s.label} ${ms(s.fixedRate.p99Ms)} ms`).join(', ')}). RSS and heap: after building the index and a full GC, before any load; peak RSS under load: ${all.map((s) => `${mib(s.maxRssBytes)}`).join(' / ')} MiB.`,
  );
  const pass = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const at1k = r.rows.find((row) => row.configs === 1000);
  if (at1k)
    console.log(
      `Target: p99 < 5 ms at ${r.rate}/s with 1,000 configs — ${ms(at1k.paced.p99Ms)} ms (${pass(at1k.paced.p99Ms < 5)})`,
    );
  console.log(
    `Target: p99 at 10,000 configs within 1.5× of p99 at 10 — ${ratio(r.ratios.p99At10kOver10)} (${pass(r.ratios.p99At10kOver10 <= 1.5)})`,
  );
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = await runScaling(flags);
  printScaling(results);
  console.log(`\nwrote ${writeResults('scaling', results)}`);
}
