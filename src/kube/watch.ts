// A watch that reads integers exactly. @kubernetes/client-node's Watch runs
// JSON.parse on each event line itself, so a TopologyConfig holding a
// duration beyond 2^53 - 1 nanoseconds reached the cache rounded, and its
// Secret could not be written. This one streams the same request (the
// kubeconfig's TLS and credentials, as rest.ts applies them) and parses each
// line with parseJson. Its contract is client-node's, which ListWatch relies
// on: `done` is called once; with a TimeoutError when nothing has arrived for
// 30 s (ListWatch then watches again at once), with an error carrying
// `statusCode` for an answer other than 200, with null when the stream ends;
// a line that is not JSON is skipped; the AbortController ends the request.
import { STATUS_CODES } from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { isRecord, parseJson } from '../resource/json.ts';

type Callback = Parameters<Watch['watch']>[2];
type Done = Parameters<Watch['watch']>[3];

export class ExactWatch extends Watch {
  readonly #idleMs: number;

  constructor(config: KubeConfig, idleMs = 30_000) {
    super(config);
    this.#idleMs = idleMs;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: Callback,
    done: Done,
  ): Promise<AbortController> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server + path);
    url.searchParams.set('watch', 'true');
    for (const [key, value] of Object.entries(queryParams)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const options: https.RequestOptions = {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: 'application/json' },
    };
    await this.config.applyToHTTPSOptions(options);

    const controller = new AbortController();
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      controller.abort();
      done(error ?? null);
    };
    const idle = (): void => {
      clearTimeout(timer);
      timer = setTimeout(
        () => finish(new DOMException(`no watch event within ${this.#idleMs} ms`, 'TimeoutError')),
        this.#idleMs,
      );
      timer.unref();
    };

    idle();
    const request = https.request({ ...options, signal: controller.signal }, (response) => {
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.resume();
        const error = new Error(response.statusMessage || STATUS_CODES[status] || 'watch failed');
        finish(Object.assign(error, { statusCode: status }));
        return;
      }
      idle();
      response.on('data', idle);
      response.on('error', finish);
      const lines = createInterface({ input: response, crlfDelay: Infinity });
      // readline re-emits the stream's errors (a reset connection) as its own.
      lines.on('error', finish);
      lines.on('line', (line) => {
        let event: unknown;
        try {
          event = parseJson(line);
        } catch {
          return;
        }
        if (isRecord(event)) callback(String(event.type), event.object, event);
      });
      lines.on('close', () => finish(null));
    });
    request.on('error', finish);
    request.end();
    return controller;
  }
}
