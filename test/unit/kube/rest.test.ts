import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { createCertificateAuthority, issueCertificate } from '../../../src/crypto/certs.ts';
import { ApiError, createRestClient } from '../../../src/kube/rest.ts';

// An API server that answers at once but never finishes: a byte every 20 ms,
// so that a socket is never idle long enough for an idle timeout.
describe('REST client: every call is bounded as a whole', () => {
  const ca = createCertificateAuthority({ commonName: 'rest-test-ca', validityDays: 1 });
  const serving = issueCertificate(ca, {
    commonName: 'rest-test',
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
    usage: 'server',
  });
  const open = new Set<NodeJS.Timeout>();
  let server: Server;
  let kubeConfig: KubeConfig;

  before(async () => {
    server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items": [');
      const drip = setInterval(() => res.write(' '), 20);
      open.add(drip);
      res.once('close', () => {
        clearInterval(drip);
        open.delete(drip);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
          caData: Buffer.from(ca.certPem).toString('base64'),
        },
      ],
      users: [{ name: 'u', token: 'not-a-secret' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });
  after(async () => {
    for (const drip of open) clearInterval(drip);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const [call, run] of [
    ['a write', (rest: ReturnType<typeof createRestClient>) => rest.replace('/api/v1/x', {})],
    ['a read', (rest: ReturnType<typeof createRestClient>) => rest.get('/api/v1/x')],
  ] as const) {
    test(`${call} whose answer trickles on fails at the timeout, not when the socket idles`, async () => {
      const rest = createRestClient(kubeConfig, 300);
      const began = performance.now();
      const outcome = await Promise.race([
        run(rest).then(
          () => 'answered',
          (error: unknown) => error,
        ),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000)),
      ]);
      const took = performance.now() - began;
      assert.ok(outcome instanceof ApiError, String(outcome));
      assert.equal(outcome.status, 504);
      assert.ok(took >= 290 && took < 2500, `failed after ${Math.round(took)} ms`);
    });
  }
});
