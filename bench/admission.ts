// Benchmark 1: admission throughput and latency over HTTPS, the product's
// webhook (1,000 configs in its index) side by side with a no-op fastify
// HTTPS handler (same TLS, same bodies, a fixed answer): the ceiling.
//   npx node bench/admission.ts [--quick] [--cpu-prof]
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import type { ContenderResult } from './lib/compare.ts';
import { compare, cpuMicrosPerReview, maxThroughputRounds, roundLengths } from './lib/compare.ts';
import { heading, writeResults } from './lib/report.ts';
import { warmUp } from './lib/load.ts';
import { benchReviews } from './lib/reviews.ts';
import type { ServerProcess } from './lib/servers.ts';
import { benchTls, startServer } from './lib/servers.ts';
import { int, median, mib, ms, ratio, table } from './lib/stats.ts';

export const CONFIGS = 1000;
export const RATE = 500;
/** Busy-waits added to the no-op for the calibration, in µs per review. */
export const BUSY_MICROS = [10, 20, 40];

/** One server of the calibration: the no-op with a fixed busy-wait, or the product. */
export interface BudgetRow {
  label: string;
  /** The no-op's busy-wait per review; undefined for the product. */
  busyMicros: number | undefined;
  requestsPerSecond: number;
  /** requestsPerSecond / the no-op's in the same rounds. */
  ratio: number;
  cpuMicrosPerReview: number;
}

export interface AdmissionResults {
  configs: number;
  connections: number;
  rate: number;
  requests: string[];
  servers: ContenderResult[];
  ratios: {
    /** Product's maximum throughput / the no-op's (target ≥ 0.7). */
    throughputSilent: number;
    throughputInfo: number;
    /** p99 at the fixed rate, evenly paced: product / no-op. */
    p99AtRateSilent: number;
    p99AtRateInfo: number;
  };
  /**
   * What the 0.7× target leaves on this machine: the no-op with busy-waits of
   * known length, and the product (log silent), in alternating rounds.
   */
  budget: BudgetRow[];
}

export async function runAdmission(flags: BenchFlags): Promise<AdmissionResults> {
  const { caPem, serving } = benchTls();
  const requests = benchReviews(CONFIGS);
  const servers: ServerProcess[] = [];
  try {
    const start = async (mode: 'noop' | 'product', logMode: 'silent' | 'info') => {
      const server = await startServer({
        mode,
        configs: mode === 'noop' ? 0 : CONFIGS,
        log: logMode,
        tls: serving,
        cpuProfileDir: flags.cpuProfileDir,
      });
      servers.push(server);
      return server;
    };
    const noop = await start('noop', 'silent');
    const silent = await start('product', 'silent');
    const info = await start('product', 'info');
    const connections = 10;
    const results = await compare(
      [
        { label: 'no-op fastify (ceiling)', server: noop, requests, check: false },
        { label: 'product, log silent', server: silent, requests, check: true },
        { label: 'product, log info → /dev/null', server: info, requests, check: true },
      ],
      {
        caPem,
        ...roundLengths(flags.quick),
        connections,
        rate: RATE,
        log,
      },
    );
    const [n, s, i] = results as [ContenderResult, ContenderResult, ContenderResult];
    const busy = [];
    for (const micros of BUSY_MICROS) {
      const server = await startServer({
        mode: 'noop',
        configs: 0,
        log: 'silent',
        tls: serving,
        busyMicros: micros,
      });
      servers.push(server);
      busy.push({ label: `no-op + ${micros} µs busy-wait`, server, requests, micros });
    }
    const budget = await calibrate(
      [
        { label: 'no-op fastify (ceiling)', server: noop, requests, micros: 0 },
        ...busy,
        { label: 'product, log silent', server: silent, requests, micros: undefined },
      ],
      { ...roundLengths(flags.quick), connections },
    );
    return {
      configs: CONFIGS,
      connections,
      rate: RATE,
      requests: requests.map((r) => `${r.label} ${r.path} (${r.body.length} bytes)`),
      servers: results,
      ratios: {
        throughputSilent: s.max.requestsPerSecond / n.max.requestsPerSecond,
        throughputInfo: i.max.requestsPerSecond / n.max.requestsPerSecond,
        p99AtRateSilent: s.paced.p99Ms / n.paced.p99Ms,
        p99AtRateInfo: i.paced.p99Ms / n.paced.p99Ms,
      },
      budget,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

async function calibrate(
  contenders: ReadonlyArray<{
    label: string;
    server: ServerProcess;
    requests: ReturnType<typeof benchReviews>;
    micros: number | undefined;
  }>,
  options: { rounds: number; seconds: number; connections: number },
): Promise<BudgetRow[]> {
  for (const c of contenders) await warmUp(c.server.url, c.requests);
  const before = await Promise.all(contenders.map((c) => c.server.stats()));
  const rounds = await maxThroughputRounds(contenders, { ...options, log });
  const after = await Promise.all(contenders.map((c) => c.server.stats()));
  const rates = rounds.map((own) => median(own.map((r) => r.requestsPerSecond)));
  return contenders.map((c, i) => ({
    label: c.label,
    busyMicros: c.micros,
    requestsPerSecond: rates[i]!,
    ratio: rates[i]! / rates[0]!,
    cpuMicrosPerReview: cpuMicrosPerReview(before[i]!, after[i]!),
  }));
}

export function printAdmission(r: AdmissionResults): void {
  heading(
    `Admission over HTTPS: ${int(r.configs)} configs indexed, ${r.connections} keep-alive connections, the 8 reviews below in rotation`,
  );
  const noop = r.servers[0]!;
  console.log('Maximum throughput (median of the rounds):\n');
  console.log(
    table(
      [
        'server',
        'req/s',
        '× no-op',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'server CPU µs/review',
        'handler wall µs',
      ],
      r.servers.map((s) => [
        s.label,
        int(s.max.requestsPerSecond),
        ratio(s.max.requestsPerSecond / noop.max.requestsPerSecond),
        ms(s.max.p50Ms),
        ms(s.max.p90Ms),
        ms(s.max.p99Ms),
        ms(s.max.maxMs),
        int(s.cpuMicrosPerReview),
        s.handlerMicrosPerReview ? int(s.handlerMicrosPerReview) : '-',
      ]),
    ),
  );
  console.log(`\nAt a fixed ${r.rate} requests/s:\n`);
  console.log(
    table(
      [
        'server',
        'load',
        'requests',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'max ms',
        'p99 × no-op',
        'sender lag p99 ms',
      ],
      r.servers.flatMap((s) => [
        [
          s.label,
          'paced evenly',
          int(s.paced.count),
          ms(s.paced.p50Ms),
          ms(s.paced.p90Ms),
          ms(s.paced.p99Ms),
          ms(s.paced.maxMs),
          ratio(s.paced.p99Ms / noop.paced.p99Ms),
          ms(s.paced.sendLagP99Ms),
        ],
        [
          '',
          `autocannon overallRate (${Math.round(100 * s.fixedRate.firstQuarterShare)}% in 1st ¼ s)`,
          int(s.fixedRate.count),
          ms(s.fixedRate.p50Ms),
          ms(s.fixedRate.p90Ms),
          ms(s.fixedRate.p99Ms),
          ms(s.fixedRate.maxMs),
          ratio(s.fixedRate.p99Ms / noop.fixedRate.p99Ms),
          '',
        ],
      ]),
    ),
  );
  console.log(
    `\nServer memory after the load (full GC): ${r.servers.map((s) => `${s.label} RSS ${mib(s.memoryAfter.rssBytes)} MiB, heap ${mib(s.memoryAfter.heapUsedBytes)} MiB`).join('; ')}`,
  );
  console.log(`Requests: ${r.requests.join('; ')}`);
  console.log(
    'Sender lag: how late the paced sender itself got its timer (other work on the machine); a p99 near it is noise, not the server.',
  );
  console.log(
    '\nCalibration: the no-op made slower by a busy-wait of known length per review, and the product, in alternating rounds (what the 0.7× target leaves on this machine):\n',
  );
  console.log(
    table(
      ['server', 'req/s', '× no-op', 'server CPU µs/review'],
      r.budget.map((b) => [
        b.label,
        int(b.requestsPerSecond),
        ratio(b.ratio),
        int(b.cpuMicrosPerReview),
      ]),
    ),
  );
  const pass = (ok: boolean) => (ok ? 'met' : 'MISSED');
  console.log(
    `Target: throughput ≥ 0.70× no-op — log silent ${ratio(r.ratios.throughputSilent)} (${pass(r.ratios.throughputSilent >= 0.7)}), log info ${ratio(r.ratios.throughputInfo)} (${pass(r.ratios.throughputInfo >= 0.7)})`,
  );
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = await runAdmission(flags);
  printAdmission(results);
  console.log(`\nwrote ${writeResults('admission', results)}`);
}
