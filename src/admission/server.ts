// The webhook's HTTPS transport: a fastify instance that decodes
// AdmissionReviews, hands them to the handlers and logs one line per review.
import { isDeepStrictEqual } from 'node:util';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AdmissionContext, AdmissionHandler } from './handlers.ts';
import { mutateTopologyConfig, validateExistingData, validateTopologyConfig } from './handlers.ts';
import { BadReviewError, decodeReview, encodeReview, type AdmissionRequest } from './review.ts';
import { isRecord } from '../resource/json.ts';
import {
  MAX_NESTING_DEPTH,
  jsonTextTooDeep,
  mayHoldUnsafeInteger,
  parseJson as parseJsonExact,
} from '../resource/json.ts';

/** The API server sends an object and its old self, each up to 3 MiB; this leaves room for the envelope. */
export const BODY_LIMIT_BYTES = 7 * 1024 * 1024;

export interface ReviewObservation {
  webhook: 'validate' | 'mutate';
  operation: string;
  allowed: boolean;
  seconds: number;
  /**
   * Whether the request brings the merge work: a CREATE, a DELETE, or an
   * UPDATE of the spec. Housekeeping (finalizers, labels, the reconciler's
   * own writes) does not.
   */
  changesSpec: boolean;
}

function changesSpec(review: AdmissionRequest): boolean {
  if (review.operation !== 'UPDATE') return true;
  const spec = (o: unknown) => (isRecord(o) ? o.spec : undefined);
  return !isDeepStrictEqual(spec(review.object), spec(review.oldObject));
}

/** Every HTTP request to a webhook path, answered or not (controller-runtime's webhook metrics). */
export interface WebhookHttpObserver {
  /** A request to `path`, one of the registered webhook paths, arrived. */
  started(path: string): void;
  /** It ended after `seconds`: answered with `code`, or undefined when the client went away first. */
  finished(path: string, code: number | undefined, seconds: number): void;
}

export interface WebhookServerOptions {
  tls: { certPem: string; keyPem: string };
  /** Read on every review, so policy and view can be swapped without a restart. */
  context: () => AdmissionContext;
  logger: Logger;
  observe?: (observation: ReviewObservation) => void;
  http?: WebhookHttpObserver;
  /** Requests in flight are answered before close() resolves. */
  connectionTimeoutMs?: number;
}

// Serialising with a schema is faster than JSON.stringify and never leaks
// a field that is not part of the AdmissionReview response.
const reviewResponseSchema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    response: {
      type: 'object',
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          properties: {
            code: { type: 'integer' },
            reason: { type: 'string' },
            message: { type: 'string' },
            details: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                group: { type: 'string' },
                kind: { type: 'string' },
                causes: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      reason: { type: 'string' },
                      message: { type: 'string' },
                      field: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
        warnings: { type: 'array', items: { type: 'string' } },
        patchType: { type: 'string' },
        patch: { type: 'string' },
      },
    },
  },
} as const;

const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

const ROUTES: ReadonlyArray<{
  paths: string[];
  webhook: 'validate' | 'mutate';
  handler: AdmissionHandler;
}> = [
  {
    paths: ['/validate', '/validate-harikube-info-v1-topologyconfig'],
    webhook: 'validate',
    handler: validateTopologyConfig,
  },
  {
    paths: ['/mutate', '/mutate-harikube-info-v1-topologyconfig'],
    webhook: 'mutate',
    handler: mutateTopologyConfig,
  },
];

const WEBHOOK_PATHS: ReadonlySet<string> = new Set(ROUTES.flatMap((r) => r.paths));

function observeRequests(app: FastifyInstance, http: WebhookHttpObserver): void {
  // Each request ends once, whether answered or aborted.
  const open = new WeakSet<object>();
  const pathOf = (url: string | undefined) =>
    url !== undefined && WEBHOOK_PATHS.has(url) ? url : undefined;
  app.addHook('onRequest', (request, _reply, done) => {
    const path = pathOf(request.routeOptions.url);
    if (path) {
      open.add(request);
      http.started(path);
    }
    done();
  });
  const end = (request: FastifyRequest, code: number | undefined, ms: number) => {
    const path = pathOf(request.routeOptions.url);
    if (path && open.delete(request)) http.finished(path, code, ms / 1000);
  };
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode, reply.elapsedTime);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, undefined, 0);
    done();
  });
}

export function buildWebhookServer(options: WebhookServerOptions): FastifyInstance {
  const { logger } = options;
  // Redaction works by field path, and the review line below has a fixed set
  // of scalar fields, none of them a secret one, so redaction can never change
  // it; but pino clones and walks every line against the logger's wildcard
  // paths (about 200 µs a line, more than the review itself). This line
  // skips it; every other line keeps the logger's redaction.
  const reviewLogger = logger.child({}, { redact: [] });
  const app = Fastify({
    https: { cert: options.tls.certPem, key: options.tls.keyPem, minVersion: 'TLSv1.2' },
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // The API server's own timeout is at most 30 s; a request slower than
    // that is abandoned anyway.
    requestTimeout: 30_000,
    connectionTimeout: options.connectionTimeoutMs ?? 30_000,
    return503OnClosing: true,
  });

  if (options.http) observeRequests(app, options.http);

  // AdmissionReviews are JSON; anything else is refused with 415, not parsed.
  app.removeContentTypeParser('text/plain');
  // JSON nested deeper than any review is refused with 400 before it is
  // parsed: the handlers' recursive code (deep comparison, the schema, the
  // patch diff) would overflow the stack on thousands of levels.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonTextTooDeep(body as string)) {
      done(
        Object.assign(new Error(`JSON nests deeper than ${MAX_NESTING_DEPTH} levels`), {
          statusCode: 400,
        }),
        undefined,
      );
      return;
    }
    // fastify's parser refuses prototype poisoning; an integer beyond 2^53 - 1
    // (a duration in nanoseconds) is then read again, exactly.
    parseJson(request, body as string, (error, value) => {
      if (error || !mayHoldUnsafeInteger(body as string)) done(error, value);
      else done(null, parseJsonExact(body as string));
    });
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const statusCode = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (statusCode >= 500)
      logger.error({ err: error, url: request.url }, 'admission request failed');
    else
      logger.warn(
        { statusCode, url: request.url, reason: error.message },
        'admission request refused',
      );
    void reply.code(statusCode).send({
      statusCode,
      error:
        statusCode === 413
          ? 'Payload Too Large'
          : statusCode >= 500
            ? 'Internal Server Error'
            : 'Bad Request',
      message: statusCode >= 500 ? 'internal error' : error.message,
    });
  });

  for (const route of ROUTES) {
    for (const url of route.paths) {
      app.post(url, {
        schema: { response: { 200: reviewResponseSchema, '4xx': errorSchema, '5xx': errorSchema } },
        handler: async (request, reply) => {
          const started = process.hrtime.bigint();
          let review;
          try {
            review = decodeReview(request.body);
          } catch (error) {
            if (error instanceof BadReviewError) {
              return reply
                .code(400)
                .send({ statusCode: 400, error: 'Bad Request', message: error.message });
            }
            throw error;
          }
          const context = options.context();
          let response = await route.handler(review, context);
          if (route.webhook === 'validate')
            response = await validateExistingData(review, response, context);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          options.observe?.({
            webhook: route.webhook,
            operation: review.operation,
            allowed: response.allowed,
            seconds,
            changesSpec: changesSpec(review),
          });
          // Like Gatekeeper and Kyverno: a denial or a warning is worth a
          // line at info, a plain "allowed" only at debug (the metrics count
          // every review). At thousands of reviews a second, a line per
          // review costs more than the review itself.
          const level = response.allowed && !response.warnings?.length ? 'debug' : 'info';
          reviewLogger[level](
            {
              uid: review.uid,
              webhook: route.webhook,
              operation: review.operation,
              object: `${review.namespace ?? ''}/${review.name ?? ''}`,
              dryRun: review.dryRun === true,
              allowed: response.allowed,
              reason: response.status?.message,
              warnings: response.warnings?.length ?? 0,
              patched: response.patch !== undefined,
              latencyMs: Math.round(seconds * 1e6) / 1e3,
            },
            'admission review',
          );
          return encodeReview(response);
        },
      });
    }
  }
  return app;
}
