import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/resource/errors.ts';
import { injectCaBundle } from '../../../src/tls/ca-bundle.ts';
import type {
  WebhookConfigurationClient,
  WebhookConfigurationKind,
  WebhookConfigurationObject,
} from '../../../src/tls/ca-bundle.ts';

const BUNDLE = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const ENCODED = Buffer.from(BUNDLE).toString('base64');

function configuration(name: string, caBundle?: string): WebhookConfigurationObject {
  const clientConfig = (path: string) => ({
    service: { namespace: 'harikube-system', name: 'topology-webhook', path, port: 443 },
    ...(caBundle !== undefined ? { caBundle } : {}),
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, resourceVersion: '1', labels: { app: 'x' } },
    webhooks: [
      { name: 'a.harikube.info', clientConfig: clientConfig('/validate'), sideEffects: 'None' },
      {
        name: 'b.harikube.info',
        clientConfig: clientConfig('/validate-harikube-info-v1-topologyconfig'),
      },
    ],
  };
}

/** An in-memory API server for the two kinds, with resourceVersion checks like the real one. */
class FakeApi implements WebhookConfigurationClient {
  store = new Map<string, WebhookConfigurationObject>();
  replaces = 0;
  /** Concurrent writers: before each of the next N replaces, someone else updates the object. */
  interleavedWrites = 0;
  failReplaceWith: number | undefined;

  async read(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfigurationObject> {
    const obj = this.store.get(`${kind}/${name}`);
    if (!obj) throw new ApiError(404, 'NotFound', 'not found');
    return structuredClone(obj);
  }

  async replace(
    kind: WebhookConfigurationKind,
    name: string,
    body: WebhookConfigurationObject,
  ): Promise<unknown> {
    this.replaces++;
    if (this.failReplaceWith) throw new ApiError(this.failReplaceWith, 'Unknown', 'boom');
    const key = `${kind}/${name}`;
    const stored = this.store.get(key);
    if (!stored) throw new ApiError(404, 'NotFound', 'not found');
    if (this.interleavedWrites > 0) {
      this.interleavedWrites--;
      stored.metadata!.resourceVersion = String(Number(stored.metadata!.resourceVersion) + 1);
      stored.metadata!.labels = { app: 'x', touched: 'yes' };
    }
    if (body.metadata?.resourceVersion !== stored.metadata?.resourceVersion) {
      throw new ApiError(409, 'Conflict', 'conflict');
    }
    const next = structuredClone(body);
    next.metadata!.resourceVersion = String(Number(stored.metadata!.resourceVersion) + 1);
    this.store.set(key, next);
    return next;
  }
}

function fakeWith(...kinds: WebhookConfigurationKind[]): FakeApi {
  const api = new FakeApi();
  for (const kind of kinds)
    api.store.set(`${kind}/topology-webhook`, configuration('topology-webhook'));
  return api;
}

describe('injectCaBundle', () => {
  test('sets the base64 caBundle on every webhook of both configurations and keeps everything else', async () => {
    const api = fakeWith('validating', 'mutating');
    const result = await injectCaBundle(api, 'topology-webhook', BUNDLE);
    assert.deepEqual(result, { validating: 'updated', mutating: 'updated' });
    for (const kind of ['validating', 'mutating'] as const) {
      const stored = api.store.get(`${kind}/topology-webhook`)!;
      const expected = configuration('topology-webhook', ENCODED);
      expected.metadata!.resourceVersion = '2';
      assert.deepEqual(stored, expected);
    }
  });

  test('writes nothing when the bundle is already there', async () => {
    const api = fakeWith('validating', 'mutating');
    await injectCaBundle(api, 'topology-webhook', BUNDLE);
    const writes = api.replaces;
    assert.deepEqual(await injectCaBundle(api, 'topology-webhook', BUNDLE), {
      validating: 'unchanged',
      mutating: 'unchanged',
    });
    assert.equal(api.replaces, writes);
  });

  test('replaces an outdated bundle', async () => {
    const api = new FakeApi();
    api.store.set('validating/topology-webhook', configuration('topology-webhook', 'b2xk'));
    api.store.set('mutating/topology-webhook', configuration('topology-webhook', ENCODED));
    assert.deepEqual(await injectCaBundle(api, 'topology-webhook', BUNDLE), {
      validating: 'updated',
      mutating: 'unchanged',
    });
    const webhooks = api.store.get('validating/topology-webhook')!.webhooks!;
    assert.deepEqual(
      webhooks.map((w) => w.clientConfig?.caBundle),
      [ENCODED, ENCODED],
    );
  });

  test("retries a 409 conflict with a fresh read and keeps the other writer's change", async () => {
    const api = fakeWith('validating', 'mutating');
    api.interleavedWrites = 2;
    const result = await injectCaBundle(api, 'topology-webhook', BUNDLE);
    assert.deepEqual(result, { validating: 'updated', mutating: 'updated' });
    const stored = api.store.get('validating/topology-webhook')!;
    assert.deepEqual(stored.metadata!.labels, {
      app: 'x',
      touched: 'yes',
    });
    assert.equal(stored.webhooks![0]!.clientConfig!.caBundle, ENCODED);
  });

  test('gives up after maxAttempts conflicts', async () => {
    const api = fakeWith('validating', 'mutating');
    api.interleavedWrites = 100;
    await assert.rejects(injectCaBundle(api, 'topology-webhook', BUNDLE, { maxAttempts: 3 }), {
      message:
        'updating the caBundle of validating webhook configuration topology-webhook failed (HTTP 409)',
    });
    assert.equal(api.replaces, 3);
  });

  test('reports a missing configuration instead of failing', async () => {
    const api = fakeWith('validating');
    assert.deepEqual(await injectCaBundle(api, 'topology-webhook', BUNDLE), {
      validating: 'updated',
      mutating: 'not-found',
    });
  });

  test('fails on other API errors without retrying', async () => {
    const api = fakeWith('validating', 'mutating');
    api.failReplaceWith = 403;
    await assert.rejects(injectCaBundle(api, 'topology-webhook', BUNDLE), {
      message:
        'updating the caBundle of validating webhook configuration topology-webhook failed (HTTP 403)',
    });
    assert.equal(api.replaces, 1);
  });
});
