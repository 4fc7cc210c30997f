// Load generation with autocannon over HTTPS (keep-alive connections, the
// request list sent in rotation). Latencies are taken from autocannon's
// per-response event (hrtime, sub-millisecond), not from its histogram, which
// rounds to whole milliseconds.
import https from 'node:https';
import autocannon from 'autocannon';
import type { AutocannonResult } from 'autocannon';
import type { BenchRequest } from './reviews.ts';
import type { LatencySummary } from './stats.ts';
import { summarize } from './stats.ts';

export interface LoadResult extends LatencySummary {
  requestsPerSecond: number;
  seconds: number;
  errors: number;
  non2xx: number;
  /** Share of the answers that came in the first quarter of each second (0.25 when the load is even). */
  firstQuarterShare: number;
}

export interface LoadOptions {
  url: string;
  requests: readonly BenchRequest[];
  /** Seconds of measurement. */
  duration: number;
  connections?: number;
  /** Requests per second over all connections; unset: as fast as the server answers. */
  overallRate?: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const instance = autocannon({
    url: options.url,
    connections: options.connections ?? 10,
    pipelining: 1,
    duration: options.duration,
    timeout: 10,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: options.requests.map((r) => ({
      method: 'POST',
      path: r.path,
      headers: { 'content-type': 'application/json' },
      body: r.body,
    })),
  });
  let firstQuarter = 0;
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
    if (statusCode !== 200) return;
    latencies.push(ms);
    if ((performance.now() - started) % 1000 < 250) firstQuarter++;
  });
  const result: AutocannonResult = await instance;
  const seconds = (performance.now() - started) / 1000;
  return {
    ...summarize(latencies),
    requestsPerSecond: latencies.length / result.duration,
    seconds,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    firstQuarterShare: firstQuarter / Math.max(1, latencies.length),
  };
}

/** Warms the JIT and the connections; the figures are thrown away. */
export async function warmUp(url: string, requests: readonly BenchRequest[], seconds = 2) {
  await load({ url, requests, duration: seconds });
}

/** One POST over HTTPS, for checking the answers before any load. */
export function post(
  url: string,
  path: string,
  body: string,
  caPem: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${url}${path}`,
      {
        method: 'POST',
        ca: caPem,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`POST ${path} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** Fails unless the product answers every bench request as expected (so the load measures real decisions). */
export async function checkAnswers(
  url: string,
  caPem: string,
  requests: readonly BenchRequest[],
): Promise<void> {
  for (const r of requests) {
    const { status, body } = await post(url, r.path, r.body, caPem);
    const allowed =
      status === 200
        ? (JSON.parse(body) as { response?: { allowed?: boolean } }).response?.allowed
        : undefined;
    if (status !== 200 || allowed !== r.expectAllowed) {
      throw new Error(
        `${r.label}: expected HTTP 200 with allowed=${r.expectAllowed}, got ${status} ${body.slice(0, 500)}`,
      );
    }
  }
}
