// Runs the same load against several server processes side by side: a
// warm-up each, then rounds of maximum throughput that alternate between the
// servers (so that other work on the machine hits all of them alike), then a
// fixed-rate run each. Every figure is the median over the rounds.
import type { LoadResult } from './load.ts';
import { checkAnswers, load, warmUp } from './load.ts';
import type { PacedResult } from './paced.ts';
import { paced } from './paced.ts';
import type { BenchRequest } from './reviews.ts';
import type { ServerProcess } from './servers.ts';
import { median } from './stats.ts';
import type { MemoryFigures, StatsMessage } from './webhook-child.ts';

export interface Contender {
  label: string;
  server: ServerProcess;
  requests: readonly BenchRequest[];
  /** Check every answer before the load (the no-op answers everything alike). */
  check: boolean;
}

export interface CompareOptions {
  caPem: string;
  /** Rounds of maximum throughput, and of the paced fixed rate, per server. */
  rounds: number;
  /** Seconds per round. */
  seconds: number;
  connections: number;
  /** Requests per second of the fixed-rate run, and its length in seconds. */
  rate: number;
  rateSeconds: number;
  log?: (line: string) => void;
}

export interface ContenderResult {
  label: string;
  max: {
    requestsPerSecond: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    maxMs: number;
    rounds: LoadResult[];
  };
  /** autocannon overallRate: each second's quota sent as a burst over all connections. */
  fixedRate: LoadResult;
  /** The same rate, evenly paced (bench/lib/paced.ts): medians over the rounds. */
  paced: PacedResult & { rounds: PacedResult[] };
  /** Server CPU time per review over the measured runs, in microseconds. */
  cpuMicrosPerReview: number;
  /** Of which in the product's handlers (wall time from decode to response); 0 for the no-op. */
  handlerMicrosPerReview: number;
  indexMs: number;
  /** After the index was built (full GC), before any load. */
  idleMemory: MemoryFigures;
  /** After the load (full GC). */
  memoryAfter: MemoryFigures;
  maxRssBytes: number;
}

/** The lengths of the rounds every side-by-side benchmark uses (shorter with --quick). */
export function roundLengths(
  quick: boolean,
): Pick<CompareOptions, 'rounds' | 'seconds' | 'rateSeconds'> {
  return quick
    ? { rounds: 1, seconds: 2, rateSeconds: 3 }
    : { rounds: 3, seconds: 5, rateSeconds: 10 };
}

/** A server's CPU time (user + system, all threads) per review it answered between two stats. */
export function cpuMicrosPerReview(before: StatsMessage, after: StatsMessage): number {
  const cpu =
    after.cpuUserMicros + after.cpuSystemMicros - before.cpuUserMicros - before.cpuSystemMicros;
  return cpu / Math.max(1, after.reviews - before.reviews);
}

/** Rounds of maximum throughput that alternate between the servers; per server, its results in order. */
export async function maxThroughputRounds(
  contenders: readonly Pick<Contender, 'label' | 'server' | 'requests'>[],
  options: Pick<CompareOptions, 'rounds' | 'seconds' | 'connections' | 'log'>,
): Promise<LoadResult[][]> {
  const log = options.log ?? (() => {});
  const rounds: LoadResult[][] = contenders.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, c] of contenders.entries()) {
      const result = await load({
        url: c.server.url,
        requests: c.requests,
        duration: options.seconds,
        connections: options.connections,
      });
      log(
        `round ${round + 1}/${options.rounds} ${c.label}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms.toFixed(2)} ms`,
      );
      rounds[i]!.push(result);
    }
  }
  return rounds;
}

export async function compare(
  contenders: readonly Contender[],
  options: CompareOptions,
): Promise<ContenderResult[]> {
  const log = options.log ?? (() => {});
  for (const c of contenders) {
    if (c.check) await checkAnswers(c.server.url, options.caPem, c.requests);
    log(`warming up ${c.label}`);
    await warmUp(c.server.url, c.requests);
  }
  const before = await Promise.all(contenders.map((c) => c.server.stats()));
  const rounds = await maxThroughputRounds(contenders, options);
  const fixed: LoadResult[] = [];
  for (const c of contenders) {
    const result = await load({
      url: c.server.url,
      requests: c.requests,
      duration: options.rateSeconds,
      connections: options.connections,
      overallRate: options.rate,
    });
    log(`${options.rate} req/s (autocannon) ${c.label}: p99 ${result.p99Ms.toFixed(2)} ms`);
    fixed.push(result);
  }
  // The maximum-throughput rounds leave each server's old generation full of
  // promoted garbage; with a large index (85 MiB of heap at 10,000 configs)
  // collecting it (concurrent marking on the second core, then its pauses)
  // landed in the paced rounds and set their p99. Each server starts the
  // fixed-rate phase from a collected heap (stats() runs a full GC).
  await Promise.all(contenders.map((c) => c.server.stats()));
  // A single stall of the machine of ~50 ms delays ~25 requests at 500/s:
  // rounds, alternating between servers, and the median of their figures.
  const evenRounds: PacedResult[][] = contenders.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, c] of contenders.entries()) {
      const result = await paced({
        url: c.server.url,
        caPem: options.caPem,
        requests: c.requests,
        rate: options.rate,
        seconds: options.rateSeconds,
      });
      log(
        `round ${round + 1}/${options.rounds} ${options.rate} req/s (paced) ${c.label}: p99 ${result.p99Ms.toFixed(2)} ms (sender lag p99 ${result.sendLagP99Ms.toFixed(2)} ms)`,
      );
      evenRounds[i]!.push(result);
    }
  }
  const even = evenRounds.map((own): PacedResult & { rounds: PacedResult[] } => ({
    count: own.reduce((sum, r) => sum + r.count, 0),
    sent: own.reduce((sum, r) => sum + r.sent, 0),
    failed: own.reduce((sum, r) => sum + r.failed, 0),
    p50Ms: median(own.map((r) => r.p50Ms)),
    p90Ms: median(own.map((r) => r.p90Ms)),
    p99Ms: median(own.map((r) => r.p99Ms)),
    maxMs: median(own.map((r) => r.maxMs)),
    requestsPerSecond: median(own.map((r) => r.requestsPerSecond)),
    sendLagP99Ms: median(own.map((r) => r.sendLagP99Ms)),
    rounds: own,
  }));
  const after = await Promise.all(contenders.map((c) => c.server.stats()));
  return contenders.map((c, i) => {
    const own = rounds[i]!;
    const pick = (f: (r: LoadResult) => number) => median(own.map(f));
    for (const r of [...own, fixed[i]!]) {
      if (r.errors > 0 || r.non2xx > 0)
        throw new Error(
          `${c.label}: ${r.errors} errors and ${r.non2xx} non-2xx answers under load`,
        );
    }
    if (even[i]!.failed > 0)
      throw new Error(`${c.label}: ${even[i]!.failed} paced requests failed`);
    const reviews = Math.max(1, after[i]!.reviews - before[i]!.reviews);
    return {
      label: c.label,
      max: {
        requestsPerSecond: pick((r) => r.requestsPerSecond),
        p50Ms: pick((r) => r.p50Ms),
        p90Ms: pick((r) => r.p90Ms),
        p99Ms: pick((r) => r.p99Ms),
        maxMs: pick((r) => r.maxMs),
        rounds: own,
      },
      fixedRate: fixed[i]!,
      paced: even[i]!,
      cpuMicrosPerReview: cpuMicrosPerReview(before[i]!, after[i]!),
      handlerMicrosPerReview: (after[i]!.handlerMicros - before[i]!.handlerMicros) / reviews,
      indexMs: c.server.ready.indexMs,
      idleMemory: c.server.ready.memory,
      memoryAfter: after[i]!.memory,
      maxRssBytes: after[i]!.maxRssBytes,
    };
  });
}
