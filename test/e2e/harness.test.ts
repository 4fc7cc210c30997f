// The control-plane harness itself: what later end-to-end and fault tests
// rely on (restarts keep data, the client CA is wired, kube-controller-manager
// makes namespaces behave as in a cluster, stop leaves nothing behind, a bad
// start fails with the log).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/certs.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane({ installCrd: false });
});
after(() => cp?.stop());

async function kubectl(args: readonly string[]): Promise<string> {
  const result = await cp.kubectl(args);
  assert.equal(result.code, 0, `kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Processes whose command line mentions `text` (the control plane's unique directory).
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

// GET with a client certificate (and no token) against the API server.
function getAs(identity: { certPem: string; keyPem: string }, path: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    https
      .get(
        `${cp.server}${path}`,
        { ca: cp.caPem, cert: identity.certPem, key: identity.keyPem },
        (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      )
      .on('error', reject);
  });
}

describe('control plane harness', () => {
  test('restarting kube-apiserver, then crashing and restarting etcd, keeps the stored objects', async () => {
    await kubectl(['create', 'configmap', 'survivor', '--from-literal=k=v']);
    const before = cp.pids();

    await cp.restartApiServer();
    assert.notEqual(cp.pids().apiServer, before.apiServer);
    assert.equal(alive(before.apiServer), false);
    assert.equal(await kubectl(['get', 'configmap', 'survivor', '-o', 'jsonpath={.data.k}']), 'v');

    await cp.restartEtcd({ crash: true });
    assert.notEqual(cp.pids().etcd, before.etcd);
    assert.equal(alive(before.etcd), false);
    assert.equal(await kubectl(['get', 'configmap', 'survivor', '-o', 'jsonpath={.data.k}']), 'v');
  });

  test('client certificates of clientCa authenticate; their organisations are groups', async () => {
    const admin = issueCertificate(cp.clientCa, {
      commonName: 'alice',
      organizations: ['system:masters'],
      validityDays: 1,
      usage: 'client',
    });
    const nobody = issueCertificate(cp.clientCa, {
      commonName: 'bob',
      validityDays: 1,
      usage: 'client',
    });
    const stranger = issueCertificate(
      createCertificateAuthority({ commonName: 'elsewhere', validityDays: 1 }),
      { commonName: 'alice', organizations: ['system:masters'], validityDays: 1, usage: 'client' },
    );
    assert.equal((await getAs(admin, '/api/v1/namespaces/default')).status, 200);
    const forbidden = await getAs(nobody, '/api/v1/namespaces/default');
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body, /User \\"bob\\" cannot get resource \\"namespaces\\"/);
    assert.equal((await getAs(stranger, '/api/v1/namespaces/default')).status, 401);
  });

  test('a start that fails reports the log and leaves no process or directory behind', async () => {
    const error = await startControlPlane({
      installCrd: false,
      apiServerArgs: ['--no-such-flag'],
    }).then(
      () => assert.fail('started with an unknown flag'),
      (e: Error) => e,
    );
    assert.match(error.message, /kube-apiserver exited with code 1 before it was ready/);
    assert.match(error.message, /unknown flag: --no-such-flag/);
    const dir = /control plane in (\S+) failed to start/.exec(error.message)?.[1];
    assert.ok(dir, error.message);
    assert.equal(existsSync(dir), false);
    assert.deepEqual(processesMentioning(dir), []);
  });

  test('kube-controller-manager: a new namespace gets its default ServiceAccount and kube-root-ca.crt', async () => {
    await kubectl(['create', 'namespace', 'fresh']);
    const deadline = Date.now() + 30_000;
    let found = '';
    while (Date.now() < deadline) {
      const sa = await cp.kubectl([
        'get',
        'serviceaccount',
        'default',
        '-n',
        'fresh',
        '-o',
        'name',
      ]);
      const cm = await cp.kubectl([
        'get',
        'configmap',
        'kube-root-ca.crt',
        '-n',
        'fresh',
        '-o',
        'jsonpath={.data.ca\\.crt}',
      ]);
      found = `${sa.stdout.trim()} ${cm.stdout.trim()}`;
      if (sa.code === 0 && cm.code === 0 && cm.stdout.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The published CA is the one that signed the API server's certificate.
    assert.equal(found, `serviceaccount/default ${cp.caPem.trim()}`);
  });

  test('kube-controller-manager: a deleted namespace terminates and takes its objects with it', async () => {
    await kubectl(['create', 'namespace', 'doomed']);
    await kubectl(['create', 'configmap', 'inside', '-n', 'doomed', '--from-literal=k=v']);
    // --wait: kubectl returns once the namespace is gone, which needs the namespace controller.
    await kubectl(['delete', 'namespace', 'doomed', '--wait=true', '--timeout=60s']);
    const gone = await cp.kubectl(['get', 'namespace', 'doomed']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound/);
  });

  test('kube-controller-manager: the garbage collector deletes objects whose owner is gone', async () => {
    await kubectl(['create', 'configmap', 'owner']);
    const uid = await kubectl(['get', 'configmap', 'owner', '-o', 'jsonpath={.metadata.uid}']);
    const owned = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'owned',
        namespace: 'default',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }],
      },
    };
    const created = await cp.kubectl(['create', '-f', '-'], { input: JSON.stringify(owned) });
    assert.equal(created.code, 0, created.stderr);
    await kubectl(['delete', 'configmap', 'owner']);
    const deadline = Date.now() + 60_000;
    let code = 0;
    while (Date.now() < deadline && code === 0) {
      code = (await cp.kubectl(['get', 'configmap', 'owned'])).code;
      if (code === 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.notEqual(code, 0, 'the owned ConfigMap outlived its owner');
  });

  test('stop ends every process, removes the directory and can be called again', async () => {
    const other = await startControlPlane({ installCrd: false });
    const { etcd, apiServer, controllerManager } = other.pids();
    assert.ok(alive(etcd) && alive(apiServer) && alive(controllerManager));
    assert.ok(existsSync(other.dir));
    await other.stop();
    assert.equal(alive(etcd), false);
    assert.equal(alive(apiServer), false);
    assert.equal(alive(controllerManager), false);
    assert.equal(existsSync(other.dir), false);
    assert.deepEqual(processesMentioning(other.dir), []);
    await other.stop();
  });
});
