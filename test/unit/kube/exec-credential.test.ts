// Exec credential plugins, run for real: a small shell script stands in for
// the plugin (it counts its runs, records what it was given, and answers
// with the reply the test wrote for that run).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { loadConnection } from '../../../src/kube/connection.ts';
import { createRestClient } from '../../../src/kube/rest.ts';
import { listenLocal, localTls } from './local-https.ts';

const root = mkdtempSync(join(tmpdir(), 'exec-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const PLUGIN = `#!/bin/sh
n=$(cat "$STATE/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$STATE/count"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$STATE/info"
printf '%s' "$*" > "$STATE/args"
if [ -f "$STATE/reply.$n" ]; then cat "$STATE/reply.$n"; else cat "$STATE/reply"; fi
exit "$(cat "$STATE/exit" 2>/dev/null || echo 0)"
`;

let plugins = 0;
/** A kubeconfig whose user runs the plugin script; `replies[i]` is the i+1-th run's stdout. */
function setup(options: {
  server?: string;
  caPem?: string;
  apiVersion?: string;
  replies: unknown[];
  exit?: number;
  command?: string;
  installHint?: string;
}) {
  const dir = join(root, String(plugins++));
  const state = join(dir, 'state');
  const apiVersion = options.apiVersion ?? 'client.authentication.k8s.io/v1';
  mkdirSync(state, { recursive: true });
  writeFileSync(join(dir, 'plugin.sh'), PLUGIN);
  chmodSync(join(dir, 'plugin.sh'), 0o755);
  options.replies.forEach((reply, i) =>
    writeFileSync(
      join(state, i === options.replies.length - 1 ? 'reply' : `reply.${i + 1}`),
      typeof reply === 'string' ? reply : JSON.stringify(reply),
    ),
  );
  if (options.exit) writeFileSync(join(state, 'exit'), String(options.exit));
  writeFileSync(
    join(dir, 'config'),
    stringify({
      clusters: [
        {
          name: 'c',
          cluster: {
            server: options.server ?? 'https://127.0.0.1:1',
            ...(options.caPem
              ? { 'certificate-authority-data': Buffer.from(options.caPem).toString('base64') }
              : {}),
          },
        },
      ],
      users: [
        {
          name: 'u',
          user: {
            exec: {
              apiVersion,
              // Relative, with a directory: resolved against the kubeconfig's directory.
              command: options.command ?? './plugin.sh',
              args: ['get-token', '--cluster', 'c'],
              env: [{ name: 'STATE', value: state }],
              provideClusterInfo: true,
              interactiveMode: 'Never',
              ...(options.installHint ? { installHint: options.installHint } : {}),
            },
          },
        },
      ],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return {
    kubeconfig: join(dir, 'config'),
    runs: () => Number(readFileSync(join(state, 'count'), 'utf8').trim()),
    info: () => JSON.parse(readFileSync(join(state, 'info'), 'utf8')) as Record<string, unknown>,
    args: () => readFileSync(join(state, 'args'), 'utf8'),
  };
}

const credential = (status: object, apiVersion = 'client.authentication.k8s.io/v1') => ({
  apiVersion,
  kind: 'ExecCredential',
  status,
});
const HOUR = 3_600_000;

describe('exec credential plugins', () => {
  test('a token, used until it expires; the plugin gets its args, env and KUBERNETES_EXEC_INFO', async () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    let now = start;
    const plugin = setup({
      caPem: 'CA PEM',
      replies: [
        credential({ token: 'token-1', expirationTimestamp: new Date(start + HOUR).toISOString() }),
        credential({ token: 'token-2' }),
      ],
    });
    const connection = loadConnection({
      userAgent: 'test',
      kubeconfig: plugin.kubeconfig,
      env: { PATH: process.env.PATH },
      now: () => now,
    });
    const token = async () => (await connection.prepare()).options.headers.authorization;
    const first = await Promise.all([token(), token(), token()]);
    assert.deepEqual(first, ['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
    assert.equal(plugin.runs(), 1, 'concurrent requests share one run');
    assert.equal(plugin.args(), 'get-token --cluster c');
    assert.deepEqual(plugin.info(), {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: 'https://127.0.0.1:1',
          'certificate-authority-data': Buffer.from('CA PEM').toString('base64'),
        },
      },
    });
    now = start + HOUR / 2;
    assert.equal(await token(), 'Bearer token-1', 'cached while it is valid');
    assert.equal(plugin.runs(), 1);
    now = start + HOUR - 5_000;
    assert.equal(await token(), 'Bearer token-2', 'run again as it is about to expire');
    assert.equal(plugin.runs(), 2);
    now = start + 10 * HOUR;
    assert.equal(await token(), 'Bearer token-2', 'no expiry: kept until refused');
    assert.equal(plugin.runs(), 2);
  });

  test('v1beta1: a client certificate and key', async () => {
    const beta = 'client.authentication.k8s.io/v1beta1';
    const plugin = setup({
      apiVersion: beta,
      replies: [credential({ clientCertificateData: 'CERT PEM', clientKeyData: 'KEY PEM' }, beta)],
    });
    const connection = loadConnection({ userAgent: 'test', kubeconfig: plugin.kubeconfig });
    const { options } = await connection.prepare();
    assert.equal(String(options.cert), 'CERT PEM');
    assert.equal(String(options.key), 'KEY PEM');
    assert.equal(options.headers.authorization, undefined);
    assert.equal((plugin.info() as { apiVersion: string }).apiVersion, beta);
  });

  test('a 401: the plugin runs again and the call is made once more with what it gives', async () => {
    const seen: string[] = [];
    const server = await listenLocal((req, res) => {
      seen.push(req.headers.authorization ?? '');
      const ok = req.headers.authorization === 'Bearer fresh';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(
        ok
          ? '{"kind":"Thing"}'
          : '{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}',
      );
    });
    try {
      const plugin = setup({
        server: server.url,
        caPem: localTls().caPem,
        replies: [credential({ token: 'stale' }), credential({ token: 'fresh' })],
      });
      const rest = createRestClient(
        loadConnection({ userAgent: 'test', kubeconfig: plugin.kubeconfig }),
      );
      assert.deepEqual(await rest.get('/api/v1/things/a'), { kind: 'Thing' });
      assert.deepEqual(seen, ['Bearer stale', 'Bearer fresh']);
      assert.equal(plugin.runs(), 2);
      assert.deepEqual(await rest.get('/api/v1/things/b'), { kind: 'Thing' });
      assert.equal(plugin.runs(), 2, 'the fresh token is kept');
    } finally {
      await server.close();
    }
  });

  const SECRET = 'sekret-exec-token';
  const failures: Record<string, [Parameters<typeof setup>[0], RegExp]> = {
    'the plugin fails': [
      { replies: [credential({ token: SECRET })], exit: 3 },
      /exec plugin .*plugin\.sh exited with code 3/,
    ],
    'it prints something else than JSON': [
      { replies: [`token: ${SECRET}`] },
      /exec plugin .*plugin\.sh: its output is not JSON/,
    ],
    'it prints another kind': [
      { replies: [{ kind: 'Token', token: SECRET }] },
      /its output is not an ExecCredential/,
    ],
    'another apiVersion than asked for': [
      { replies: [credential({ token: SECRET }, 'client.authentication.k8s.io/v1beta1')] },
      /its ExecCredential is client\.authentication\.k8s\.io\/v1beta1, not client\.authentication\.k8s\.io\/v1/,
    ],
    'a status with a key but no certificate': [
      { replies: [credential({ clientKeyData: SECRET })] },
      /status has only one of clientCertificateData and clientKeyData/,
    ],
    'a status with no credential': [
      { replies: [credential({ expirationTimestamp: '2030-01-01T00:00:00Z' })] },
      /status has neither a token nor clientCertificateData and clientKeyData/,
    ],
    'an expiry that is not a time': [
      { replies: [credential({ token: SECRET, expirationTimestamp: 'soon' })] },
      /status\.expirationTimestamp is not an RFC 3339 time/,
    ],
    'a plugin that is not installed': [
      {
        replies: [],
        command: 'no-such-credential-plugin',
        installHint: 'install it with: brew install it',
      },
      /exec plugin no-such-credential-plugin not found: install it with: brew install it/,
    ],
  };
  for (const [name, [options, expected]] of Object.entries(failures)) {
    test(`${name}: the error names the plugin, never what it printed`, async () => {
      const plugin = setup(options);
      const connection = loadConnection({ userAgent: 'test', kubeconfig: plugin.kubeconfig });
      await assert.rejects(connection.prepare(), (error: Error) => {
        assert.match(error.message, expected);
        assert.ok(!error.message.includes(SECRET), error.message);
        return true;
      });
    });
  }
});
