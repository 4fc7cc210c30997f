// The kubeconfig loader against @kubernetes/client-node as the oracle (a dev
// dependency now, never loaded by the product): for each kubeconfig, both
// must resolve the same server, CA, client certificate and key, server name,
// verification and token. Then what client-node does not do as kubectl does
// (duplicate names across files, tokenFile), the service account, and the
// errors for what the product refuses.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { loadConnection, CREDENTIAL_FILE_TTL_MS } from '../../../src/kube/connection.ts';
import { KubeconfigError } from '../../../src/kube/kubeconfig.ts';

const root = mkdtempSync(join(tmpdir(), 'connection-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
/** A fresh directory holding `files` (path → content). */
function folder(files: Record<string, string | object>): string {
  const dir = join(root, String(dirs++));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), typeof content === 'string' ? content : stringify(content));
  }
  return dir;
}

const pem = (what: string) =>
  `-----BEGIN ${what}-----\n${Buffer.from(what).toString('base64')}\n-----END ${what}-----\n`;
const b64 = (text: string) => Buffer.from(text).toString('base64');
const CA = pem('CA ONE');
const CA2 = pem('CA TWO');
const CERT = pem('CERTIFICATE');
const KEY = pem('PRIVATE KEY');

const cluster = (name: string, fields: object) => ({ name, cluster: fields });
const user = (name: string, fields: object) => ({ name, user: fields });
const context = (name: string, clusterName: string, userName?: string) => ({
  name,
  context: { cluster: clusterName, ...(userName ? { user: userName } : {}) },
});

interface Resolved {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized?: boolean;
  authorization?: string;
}

const text = (value: unknown) => (value === undefined ? undefined : String(value));
function normalise(server: string, options: RequestOptions): Resolved {
  const headers = (options.headers ?? {}) as Record<string, string>;
  const resolved: Resolved = {
    // As a URL: https://host:443 and https://host are one server.
    server: new URL(server).href,
    ca: text(options.ca),
    cert: text(options.cert),
    key: text(options.key),
    servername: options.servername,
    rejectUnauthorized: options.rejectUnauthorized,
    authorization: headers.authorization ?? headers.Authorization,
  };
  return Object.fromEntries(
    Object.entries(resolved).filter(([, v]) => v !== undefined && v !== true),
  ) as Resolved;
}

async function ours(options: { files: string[]; context?: string }): Promise<Resolved> {
  const connection = loadConnection({
    userAgent: 'test',
    env: { KUBECONFIG: options.files.join(':') },
    ...(options.context ? { context: options.context } : {}),
  });
  const { options: request } = await connection.prepare();
  return normalise(connection.server.href, request);
}

async function oracle(options: { files: string[]; context?: string }): Promise<Resolved> {
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = options.files.join(':');
  try {
    const kc = new KubeConfig();
    // true: the first file's current-context wins, as in kubectl.
    kc.loadFromDefault(undefined, true);
    if (options.context) kc.setCurrentContext(options.context);
    const request: RequestOptions = {};
    await kc.applyToHTTPSOptions(request);
    return normalise(kc.getCurrentCluster()!.server, request);
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
}

describe('kubeconfig: the same answer as client-node', () => {
  const cases: Record<string, () => { files: string[]; context?: string }> = {
    'files relative to the kubeconfig: CA, client certificate and key': () => {
      const dir = folder({
        'certs/ca.crt': CA,
        'certs/client.crt': CERT,
        'certs/client.key': KEY,
        config: {
          clusters: [
            cluster('c', {
              server: 'https://127.0.0.1:6443',
              'certificate-authority': 'certs/ca.crt',
            }),
          ],
          users: [
            user('u', {
              'client-certificate': 'certs/client.crt',
              'client-key': './certs/client.key',
            }),
          ],
          contexts: [context('x', 'c', 'u')],
          'current-context': 'x',
        },
      });
      return { files: [join(dir, 'config')] };
    },
    'inline -data fields': () => {
      const dir = folder({
        config: {
          clusters: [
            cluster('c', {
              server: 'https://api.example:443',
              'certificate-authority-data': b64(CA),
            }),
          ],
          users: [user('u', { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) })],
          contexts: [context('x', 'c', 'u')],
          'current-context': 'x',
        },
      });
      return { files: [join(dir, 'config')] };
    },
    'a bearer token, tls-server-name': () => {
      const dir = folder({
        config: {
          clusters: [
            cluster('c', {
              server: 'https://10.0.0.1:6443/prefix',
              'certificate-authority-data': b64(CA),
              'tls-server-name': 'kubernetes.default.svc',
            }),
          ],
          users: [user('u', { token: 'token-abc' })],
          contexts: [context('x', 'c', 'u')],
          'current-context': 'x',
        },
      });
      return { files: [join(dir, 'config')] };
    },
    'insecure-skip-tls-verify, an IPv6 server': () => {
      const dir = folder({
        config: {
          clusters: [
            cluster('c', { server: 'https://[::1]:6443', 'insecure-skip-tls-verify': true }),
          ],
          // client-node applies no TLS setting without a user.
          users: [user('u', { token: 't' })],
          contexts: [context('x', 'c', 'u')],
          'current-context': 'x',
        },
      });
      return { files: [join(dir, 'config')] };
    },
    'KUBECONFIG of two files: the first current-context, entries from both, paths relative to each':
      () => {
        const one = folder({
          config: {
            clusters: [
              cluster('first', {
                server: 'https://first:6443',
                'certificate-authority-data': b64(CA),
              }),
            ],
            users: [user('first-user', { token: 'first-token' })],
            contexts: [context('first', 'first', 'first-user')],
            'current-context': 'second',
          },
        });
        const two = folder({
          'pki/ca.crt': CA2,
          'pki/client.crt': CERT,
          'pki/client.key': KEY,
          config: {
            clusters: [
              cluster('second', {
                server: 'https://second:6443',
                'certificate-authority': 'pki/ca.crt',
              }),
            ],
            users: [
              user('second-user', {
                'client-certificate': 'pki/client.crt',
                'client-key': 'pki/client.key',
              }),
            ],
            contexts: [context('second', 'second', 'second-user')],
            'current-context': 'first',
          },
        });
        return { files: [join(one, 'config'), join(two, 'config')] };
      },
    'a chosen context instead of the current one': () => {
      const dir = folder({
        config: {
          clusters: [
            cluster('a', { server: 'https://a:6443', 'certificate-authority-data': b64(CA) }),
            cluster('b', { server: 'https://b:6443', 'certificate-authority-data': b64(CA2) }),
          ],
          users: [user('ua', { token: 'token-a' }), user('ub', { token: 'token-b' })],
          contexts: [context('a', 'a', 'ua'), context('b', 'b', 'ub')],
          'current-context': 'a',
        },
      });
      return { files: [join(dir, 'config')], context: 'b' };
    },
  };
  for (const [name, make] of Object.entries(cases)) {
    test(name, async () => {
      const input = make();
      const expected = await oracle(input);
      assert.deepEqual(await ours(input), expected);
      assert.ok(expected.server.startsWith('https://'), 'the oracle resolved a server');
      assert.ok(Object.keys(expected).length > 1, 'and TLS or credentials');
    });
  }

  test('the service account in a Pod, an IPv6 service address in brackets', async () => {
    const prefix = folder({
      'var/run/secrets/kubernetes.io/serviceaccount/token': 'sa-token\n',
      'var/run/secrets/kubernetes.io/serviceaccount/ca.crt': CA,
    });
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    let expected: Resolved;
    try {
      const kc = new KubeConfig();
      kc.loadFromCluster(prefix);
      const request: RequestOptions = {};
      await kc.applyToHTTPSOptions(request);
      expected = normalise(kc.getCurrentCluster()!.server, request);
    } finally {
      for (const key of Object.keys(env)) if (!(key in saved)) delete process.env[key];
    }
    const connection = loadConnection({
      userAgent: 'test',
      env,
      serviceAccountDir: join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount'),
    });
    const { options } = await connection.prepare();
    assert.equal(options.hostname, 'fd00::1', 'a socket gets the bare address');
    // client-node sends the file as it is; the token's newline is no part of it (client-go trims it too).
    assert.deepEqual(normalise(connection.server.href, options), {
      ...expected,
      authorization: expected.authorization!.trimEnd(),
    });
  });
});

describe('kubeconfig: as kubectl reads it, where client-node differs', () => {
  test('the same name in two KUBECONFIG files: the first file wins', async () => {
    const one = folder({
      config: {
        clusters: [
          cluster('c', { server: 'https://one:6443', 'certificate-authority-data': b64(CA) }),
        ],
        users: [user('u', { token: 'one' })],
        contexts: [context('x', 'c', 'u')],
      },
    });
    const two = folder({
      config: {
        clusters: [
          cluster('c', { server: 'https://two:6443', 'certificate-authority-data': b64(CA2) }),
        ],
        users: [user('u', { token: 'two' })],
        contexts: [context('x', 'c', 'u')],
        'current-context': 'x',
      },
    });
    assert.deepEqual(await ours({ files: [join(one, 'config'), join(two, 'config')] }), {
      server: 'https://one:6443/',
      ca: CA,
      authorization: 'Bearer one',
    });
  });

  test('a missing KUBECONFIG entry is skipped; an empty one is ignored', async () => {
    const dir = folder({
      config: {
        clusters: [cluster('c', { server: 'https://one:6443' })],
        contexts: [context('x', 'c')],
        'current-context': 'x',
      },
    });
    const connection = loadConnection({
      userAgent: 'test',
      env: { KUBECONFIG: `${join(dir, 'absent')}::${join(dir, 'config')}` },
    });
    assert.equal(connection.server.host, 'one:6443');
  });

  test('tokenFile: relative to the kubeconfig, re-read once a minute and after a 401; token wins over it', async () => {
    const dir = folder({
      'secrets/token': 'first\n',
      config: {
        clusters: [cluster('c', { server: 'https://one:6443' })],
        users: [
          user('file', { tokenFile: 'secrets/token' }),
          user('both', { token: 'inline', tokenFile: 'secrets/token' }),
        ],
        contexts: [context('file', 'c', 'file'), context('both', 'c', 'both')],
        'current-context': 'file',
      },
    });
    let now = 1_000_000;
    const connection = loadConnection({
      userAgent: 'test',
      kubeconfig: join(dir, 'config'),
      now: () => now,
    });
    const authorization = async () => (await connection.prepare()).options.headers.authorization;
    assert.equal(await authorization(), 'Bearer first');
    writeFileSync(join(dir, 'secrets/token'), 'second\n');
    now += CREDENTIAL_FILE_TTL_MS - 1;
    assert.equal(await authorization(), 'Bearer first', 'within a minute: as read');
    now += 1;
    assert.equal(await authorization(), 'Bearer second', 'a minute later: read again');
    writeFileSync(join(dir, 'secrets/token'), 'third');
    const refused = await connection.prepare();
    assert.equal(refused.unauthorized(), true, 'a token file can be renewed');
    assert.equal(await authorization(), 'Bearer third', 'after a 401: read again at once');

    const both = loadConnection({
      userAgent: 'test',
      kubeconfig: join(dir, 'config'),
      context: 'both',
    });
    const prepared = await both.prepare();
    assert.equal(prepared.options.headers.authorization, 'Bearer inline');
    assert.equal(prepared.unauthorized(), false, 'an inline token cannot be renewed');
  });

  test('client certificate files rotate: read again after a minute and after a 401; -data never', async () => {
    const dir = folder({
      'pki/client.crt': pem('CERTIFICATE ONE'),
      'pki/client.key': pem('KEY ONE'),
      config: {
        clusters: [cluster('c', { server: 'https://one:6443' })],
        users: [
          user('files', { 'client-certificate': 'pki/client.crt', 'client-key': 'pki/client.key' }),
          user('data', { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }),
        ],
        contexts: [context('files', 'c', 'files'), context('data', 'c', 'data')],
        'current-context': 'files',
      },
    });
    let now = 5_000_000;
    const connection = loadConnection({
      userAgent: 'test',
      kubeconfig: join(dir, 'config'),
      now: () => now,
    });
    const pair = async () => {
      const { options } = await connection.prepare();
      return `${String(options.cert)}|${String(options.key)}`;
    };
    const one = `${pem('CERTIFICATE ONE')}|${pem('KEY ONE')}`;
    assert.equal(await pair(), one);
    // A rotation replaces both files.
    writeFileSync(join(dir, 'pki/client.crt'), pem('CERTIFICATE TWO'));
    writeFileSync(join(dir, 'pki/client.key'), pem('KEY TWO'));
    now += CREDENTIAL_FILE_TTL_MS - 1;
    assert.equal(await pair(), one, 'within a minute: as read');
    now += 1;
    assert.equal(await pair(), `${pem('CERTIFICATE TWO')}|${pem('KEY TWO')}`, 'a minute later');
    writeFileSync(join(dir, 'pki/client.crt'), pem('CERTIFICATE THREE'));
    writeFileSync(join(dir, 'pki/client.key'), pem('KEY THREE'));
    const refused = await connection.prepare();
    assert.equal(refused.unauthorized(), true, 'certificate files can be renewed');
    assert.equal(await pair(), `${pem('CERTIFICATE THREE')}|${pem('KEY THREE')}`, 'after a 401');

    const inline = loadConnection({
      userAgent: 'test',
      kubeconfig: join(dir, 'config'),
      context: 'data',
    });
    const prepared = await inline.prepare();
    assert.equal(String(prepared.options.cert), CERT);
    assert.equal(prepared.unauthorized(), false, 'inline data cannot be renewed');
  });

  test('the service account token rotates: read again after a minute', async () => {
    const dir = folder({ token: 'one', 'ca.crt': CA });
    let now = 0;
    const connection = loadConnection({
      userAgent: 'test',
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountDir: dir,
      now: () => now,
    });
    assert.equal(connection.server.href, 'https://10.96.0.1/');
    writeFileSync(join(dir, 'token'), 'two');
    assert.equal((await connection.prepare()).options.headers.authorization, 'Bearer one');
    now += CREDENTIAL_FILE_TTL_MS;
    assert.equal((await connection.prepare()).options.headers.authorization, 'Bearer two');
  });

  test('the order of sources: --kubeconfig, KUBECONFIG, the service account, ~/.kube/config', () => {
    const config = (server: string) => ({
      clusters: [cluster('c', { server })],
      contexts: [context('x', 'c')],
      'current-context': 'x',
    });
    const dir = folder({
      explicit: config('https://explicit:1'),
      env: config('https://env:1'),
      'home/.kube/config': config('https://home:1'),
      'sa/token': 't',
    });
    const pod = { KUBERNETES_SERVICE_HOST: 'pod', KUBERNETES_SERVICE_PORT: '1' };
    const host = (kubeconfig: string | undefined, env: Record<string, string>) =>
      loadConnection({
        userAgent: 'test',
        ...(kubeconfig ? { kubeconfig } : {}),
        env,
        home: join(dir, 'home'),
        serviceAccountDir: join(dir, 'sa'),
      }).server.hostname;
    const all = { KUBECONFIG: join(dir, 'env'), ...pod };
    assert.equal(host(join(dir, 'explicit'), all), 'explicit');
    assert.equal(host(undefined, all), 'env');
    assert.equal(host(undefined, pod), 'pod');
    assert.equal(host(undefined, {}), 'home');
    assert.throws(
      () => loadConnection({ userAgent: 'test', env: {}, home: join(dir, 'nowhere') }),
      /no cluster to talk to: pass --kubeconfig, set KUBECONFIG/,
    );
  });

  test('the user agent is on every request', async () => {
    const dir = folder({
      config: {
        clusters: [cluster('c', { server: 'https://one:6443' })],
        contexts: [context('x', 'c')],
        'current-context': 'x',
      },
    });
    const connection = loadConnection({
      userAgent: 'topology-webhook/1.2.3 (server)',
      kubeconfig: join(dir, 'config'),
    });
    assert.equal(
      (await connection.prepare()).options.headers['user-agent'],
      'topology-webhook/1.2.3 (server)',
    );
  });
});

describe('kubeconfig: what the product refuses, said at start', () => {
  const SECRET = 'sekret-token-value';
  const base = (clusterFields: object, userFields: object, extra: object = {}) => ({
    clusters: [cluster('c', { server: 'https://one:6443', ...clusterFields })],
    users: [user('u', { token: SECRET, ...userFields })],
    contexts: [context('x', 'c', 'u')],
    'current-context': 'x',
    ...extra,
  });
  const cases: Record<string, [object, RegExp]> = {
    'auth-provider': [
      base(
        {},
        { token: undefined, 'auth-provider': { name: 'oidc', config: { 'id-token': SECRET } } },
      ),
      /users\["u"\]\.user\.auth-provider is not supported: use an exec credential plugin \(exec\) instead/,
    ],
    'username and password': [
      base({}, { username: 'admin', password: SECRET }),
      /users\["u"\]\.user\.username is not supported: basic authentication is not supported: use a token or a client certificate/,
    ],
    impersonation: [
      base({}, { as: 'someone' }),
      /users\["u"\]\.user\.as is not supported: impersonation/,
    ],
    'proxy-url': [
      base({ 'proxy-url': 'http://proxy:3128' }, {}),
      /clusters\["c"\]\.cluster\.proxy-url is not supported: the product connects directly/,
    ],
    'an http server': [
      base({ server: 'http://one:8080' }, {}),
      /clusters\["c"\]\.cluster\.server http:\/\/ is not supported: use https:\/\//,
    ],
    'insecure with a CA': [
      base({ 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64(CA) }, {}),
      /clusters\["c"\]\.cluster\.insecure-skip-tls-verify is set with a certificate authority: choose one of them/,
    ],
    'a context that does not exist': [
      base({}, {}, { 'current-context': 'nope' }),
      /context "nope" not found/,
    ],
    'a cluster that does not exist': [
      base({}, {}, { contexts: [context('x', 'gone', 'u')] }),
      /contexts\["x"\]\.context\.cluster: cluster "gone" not found/,
    ],
    'a user that does not exist': [
      base({}, {}, { contexts: [context('x', 'c', 'nobody')] }),
      /contexts\["x"\]\.context\.user: user "nobody" not found/,
    ],
    'no current-context': [base({}, {}, { 'current-context': '' }), /current-context is not set/],
    'a client certificate without its key': [
      base({}, { 'client-certificate-data': b64(CERT) }),
      /users\["u"\]\.user\.client-key is not set \(nor client-key-data\): a client certificate needs both/,
    ],
    'a client key file that does not exist': [
      base({}, { 'client-certificate-data': b64(CERT), 'client-key': 'missing.key' }),
      /users\["u"\]\.user\.client-key: .*missing\.key cannot be read \(ENOENT\)/,
    ],
    'an exec plugin of v1alpha1': [
      base(
        {},
        {
          token: undefined,
          exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' },
        },
      ),
      /users\["u"\]\.user\.exec\.apiVersion: "client\.authentication\.k8s\.io\/v1alpha1" is not supported: use client\.authentication\.k8s\.io\/v1 or client\.authentication\.k8s\.io\/v1beta1/,
    ],
    'an interactive exec plugin': [
      base(
        {},
        {
          token: undefined,
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: 'x',
            interactiveMode: 'Always',
          },
        },
      ),
      /users\["u"\]\.user\.exec\.interactiveMode: Always is not supported/,
    ],
    'YAML that does not parse': [
      `users:\n- name: u\n  user: {token: ${SECRET}\n` as unknown as object,
      /not valid YAML/,
    ],
  };
  for (const [name, [content, expected]] of Object.entries(cases)) {
    test(name, () => {
      const dir = folder({ config: content });
      const file = join(dir, 'config');
      assert.throws(
        () => loadConnection({ userAgent: 'test', kubeconfig: file }),
        (error: Error) => {
          assert.ok(error instanceof KubeconfigError, String(error));
          assert.match(error.message, expected);
          assert.ok(error.message.includes(file), `names the file: ${error.message}`);
          assert.ok(!error.message.includes(SECRET), `no secret in: ${error.message}`);
          return true;
        },
      );
    });
  }

  test('--kubeconfig naming no file', () => {
    assert.throws(
      () => loadConnection({ userAgent: 'test', kubeconfig: join(root, 'absent') }),
      /kubeconfig .*absent: no such file/,
    );
  });

  test('in a Pod without a mounted token', () => {
    assert.throws(
      () =>
        loadConnection({
          userAgent: 'test',
          env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
          serviceAccountDir: folder({ 'ca.crt': CA }),
        }),
      /in-cluster: .*token does not exist \(is the service account token mounted\? automountServiceAccountToken\)/,
    );
  });
});
