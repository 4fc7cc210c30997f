// The server under load, in its own process so that the load generator does
// not share its event loop: either the product's webhook (buildWebhookServer
// with n configs in the index, the production metrics hook, and a logger) or
// a no-op fastify HTTPS handler with the same TLS that answers every review
// with one fixed AdmissionReview (the ceiling). Talks to the parent over IPC:
//   parent → {type:'start', ...StartMessage}  child → {type:'ready', port, ...}
//   parent → {type:'stats'}                   child → {type:'stats', ...}
//   parent → {type:'stop'}                    child exits
import { once } from 'node:events';
import Fastify from 'fastify';
import pino from 'pino';
import { BODY_LIMIT_BYTES, buildWebhookServer } from '../../src/admission/server.ts';
import { ConfigIndex } from '../../src/rules/config-index.ts';
import { createLogger } from '../../src/server/logger.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { benchPolicy, fleetConfig } from './configs.ts';

export type ServerMode = 'product' | 'noop';
/** silent: pino at level silent; info: the product's logger at info, written (async) to /dev/null. */
export type LogMode = 'silent' | 'info';

export interface StartMessage {
  mode: ServerMode;
  configs: number;
  log: LogMode;
  tls: { certPem: string; keyPem: string };
  /**
   * no-op only: busy-wait this many microseconds per review before answering,
   * a stand-in for work of a known cost (calibrates what a target leaves).
   */
  busyMicros?: number;
}

export interface MemoryFigures {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
}

export interface ReadyMessage {
  type: 'ready';
  port: number;
  /** Time to build the index (product) in ms. */
  indexMs: number;
  /** After the index is built and a full GC. */
  memory: MemoryFigures;
}

export interface StatsMessage {
  type: 'stats';
  /** After a full GC. */
  memory: MemoryFigures;
  /** Peak resident set since start. */
  maxRssBytes: number;
  /** CPU time since start, in microseconds. */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  reviews: number;
  /** Time the product's handlers took (decode to response, as its metrics see it), summed, in microseconds. */
  handlerMicros: number;
}

function memory(): MemoryFigures {
  // --expose-gc is passed by the parent: figures after a full collection are comparable.
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
  };
}

const FIXED_REVIEW = Object.freeze({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: Object.freeze({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true }),
});

async function start(message: StartMessage): Promise<void> {
  let reviews = 0;
  let handlerMicros = 0;
  let indexMs = 0;
  let app;
  if (message.mode === 'noop') {
    app = Fastify({
      https: { cert: message.tls.certPem, key: message.tls.keyPem, minVersion: 'TLSv1.2' },
      bodyLimit: BODY_LIMIT_BYTES,
      logger: false,
    });
    // The body is parsed (fastify's JSON parser) and ignored; the answer is
    // serialised by fastify, as any handler's would be.
    const busyMs = (message.busyMicros ?? 0) / 1000;
    const handler = async () => {
      reviews++;
      if (busyMs > 0) {
        const until = performance.now() + busyMs;
        while (performance.now() < until);
      }
      return FIXED_REVIEW;
    };
    app.post('/validate', handler);
    app.post('/mutate', handler);
  } else {
    const started = performance.now();
    const index = new ConfigIndex();
    for (let i = 0; i < message.configs; i++) index.upsert(fleetConfig(i));
    indexMs = performance.now() - started;
    const logger =
      message.log === 'info'
        ? createLogger('info', pino.destination({ dest: '/dev/null', sync: false }))
        : pino({ level: 'silent' });
    const metrics = createMetrics();
    app = buildWebhookServer({
      tls: message.tls,
      context: () => ({ view: index, policy: benchPolicy }),
      logger,
      observe: ({ webhook, operation, allowed, seconds }) => {
        reviews++;
        handlerMicros += seconds * 1e6;
        metrics.observeAdmission({
          webhook: webhook === 'validate' ? 'validating' : 'mutating',
          operation,
          allowed,
          seconds,
        });
      },
    });
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const ready: ReadyMessage = { type: 'ready', port, indexMs, memory: memory() };
  process.send!(ready);

  process.on('message', (raw: { type: string }) => {
    if (raw.type === 'stats') {
      const cpu = process.cpuUsage();
      const stats: StatsMessage = {
        type: 'stats',
        memory: memory(),
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        cpuUserMicros: cpu.user,
        cpuSystemMicros: cpu.system,
        reviews,
        handlerMicros,
      };
      process.send!(stats);
    } else if (raw.type === 'stop') {
      void app.close().then(() => process.exit(0));
    }
  });
}

if (!process.send) {
  console.error('webhook-child.ts is started by bench/lib/servers.ts over IPC');
  process.exit(2);
}
// The parent going away (a crash, ^C) must not leave a server behind.
process.on('disconnect', () => process.exit(0));
const [first] = (await once(process, 'message')) as [{ type: string } & StartMessage];
if (first.type !== 'start') throw new Error(`expected a start message, got ${first.type}`);
await start(first);
