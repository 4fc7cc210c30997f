// An open-loop load at an even rate: request i is sent at start + i/rate,
// whether or not earlier ones have been answered (as independent API-server
// requests arrive), over a pool of keep-alive HTTPS connections. autocannon's
// overallRate instead sends each second's quota as fast as it can at the
// start of the second, a burst at full concurrency; this is the even reading
// of "a fixed rate".
import https from 'node:https';
import type { BenchRequest } from './reviews.ts';
import type { LatencySummary } from './stats.ts';
import { summarize } from './stats.ts';

export interface PacedOptions {
  url: string;
  caPem: string;
  requests: readonly BenchRequest[];
  rate: number;
  seconds: number;
  /** Upper bound of connections (opened as needed, kept alive). */
  maxConnections?: number;
}

export interface PacedResult extends LatencySummary {
  sent: number;
  failed: number;
  /** Achieved rate of answers. */
  requestsPerSecond: number;
  /** How late the timer let requests go out (p99 of send time − scheduled time), ms. */
  sendLagP99Ms: number;
}

export async function paced(options: PacedOptions): Promise<PacedResult> {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: options.maxConnections ?? 32,
    ca: options.caPem,
  });
  const { hostname, port } = new URL(options.url);
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  const lags: number[] = [];
  let failed = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();

  const send = (i: number, scheduled: number) => {
    const r = options.requests[i % options.requests.length]!;
    const started = performance.now();
    lags.push(started - scheduled);
    const done = new Promise<void>((resolve) => {
      const request = https.request(
        {
          agent,
          hostname,
          port,
          path: r.path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(r.body),
          },
        },
        (response) => {
          response.on('data', () => {});
          response.on('end', () => {
            if (response.statusCode === 200) latencies.push(performance.now() - started);
            else failed++;
            resolve();
          });
        },
      );
      request.setTimeout(10_000, () => request.destroy(new Error('timeout')));
      request.on('error', () => {
        failed++;
        resolve();
      });
      request.end(r.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) {
        send(sent, start + sent * interval);
        sent++;
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    ...summarize(latencies),
    sent,
    failed,
    requestsPerSecond: latencies.length / elapsed,
    sendLagP99Ms: summarize(lags).p99Ms,
  };
}
