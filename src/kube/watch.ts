// A watch stream that reads integers exactly (a TopologyConfig holding a
// duration beyond 2^53 - 1 nanoseconds must reach the cache unrounded, or
// its Secret cannot be written): the connection's TLS and credentials, as
// rest.ts applies them, and each line parsed with parseJson. The informer
// relies on its contract: `done` is called once; with a TimeoutError when
// nothing has arrived for 30 s (the informer then watches again at once),
// with an error carrying `statusCode` for an answer other than 200, with
// null when the stream ends; a line that is not JSON is skipped; the
// AbortController ends the request.
import { STATUS_CODES } from '../runtime/http.ts';
import https from 'node:https';
import { isRecord, parseJson } from '../resource/json.ts';
import type { Connection } from './connection.ts';

/** One watch request at a time; the informer's seam (unit tests script one). */
export interface WatchStream {
  watch(
    path: string,
    query: Record<string, string | undefined>,
    callback: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController>;
}

export class ExactWatch implements WatchStream {
  readonly #connection: Connection;
  readonly #idleMs: number;

  constructor(connection: Connection, idleMs = 30_000) {
    this.#connection = connection;
    this.#idleMs = idleMs;
  }

  async watch(
    path: string,
    query: Record<string, string | undefined>,
    callback: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    const base = this.#connection.server;
    const params = new URLSearchParams({ watch: 'true' });
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, value);
    }
    const prepared = await this.#connection.prepare();
    const options: https.RequestOptions = {
      ...prepared.options,
      method: 'GET',
      path: `${base.pathname.replace(/\/$/, '')}${path}?${params.toString()}`,
      headers: { ...prepared.options.headers, accept: 'application/json' },
    };

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
        // The next watch then renews what can be renewed (an exec credential, a token file).
        if (status === 401) prepared.unauthorized();
        const error = new Error(response.statusMessage || STATUS_CODES[status] || 'watch failed');
        finish(Object.assign(error, { statusCode: status }));
        return;
      }
      idle();
      const line = (text: string) => {
        let event: unknown;
        try {
          event = parseJson(text);
        } catch {
          return;
        }
        if (isRecord(event)) callback(String(event.type), event.object);
      };
      // One JSON event per line, split here (node:readline would add ~1 MiB of RSS for this).
      let rest = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        idle();
        let start = 0;
        let end: number;
        const text = rest + chunk;
        while ((end = text.indexOf('\n', start)) !== -1) {
          if (finished) return;
          line(text.slice(start, end));
          start = end + 1;
        }
        rest = text.slice(start);
      });
      // A reset connection is an error; otherwise the stream's end is the watch's.
      response.on('error', finish);
      response.on('end', () => {
        if (rest && !finished) line(rest);
        finish(null);
      });
      response.on('close', () => finish(null));
    });
    request.on('error', finish);
    request.end();
    return controller;
  }
}
