// Benchmark 1: admission throughput and latency over HTTPS, the product's
// webhook (1,000 configs in its index) side by side with a no-op fastify
// HTTPS handler (same TLS, same bodies, a fixed answer): the ceiling.
//   npx node bench/admission.ts [--quick] [--cpu-prof]
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import type { ContenderResult } from './lib/compare.ts';
import { compare } from './lib/compare.ts';
import { heading, writeResults } from './lib/report.ts';
import { benchReviews } from './lib/reviews.ts';
import type { ServerProcess } from './lib/servers.ts';
import { benchTls, startServer } from './lib/servers.ts';
import { int, mib, ms, ratio, table } from './lib/stats.ts';

export const CONFIGS = 1000;
export const RATE = 500;

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
        rounds: flags.quick ? 1 : 3,
        seconds: flags.quick ? 2 : 5,
        connections,
        rate: RATE,
        rateSeconds: flags.quick ? 3 : 10,
        log,
      },
    );
    const [n, s, i] = results as [ContenderResult, ContenderResult, ContenderResult];
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
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
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
