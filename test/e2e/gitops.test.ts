// End to end: what GitOps tools and scripts read from live objects. kubectl
// wait on the Ready condition, kstatus (cli-utils), Flux's CEL health
// expressions and the Argo CD health.lua over the objects the real API
// server serves, and re-applies that change nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ControlPlane } from '../harness/controlplane.ts';
import { runTool, type ToolResult } from '../harness/tools.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  configYaml,
  ensureNamespace,
  mustApply,
  readConfig,
  sleep,
  useEnv,
  waitFor,
  waitForStatus,
  withLogs,
} from './support.ts';

const SETTLE_MS = 3000;
const env = useEnv({
  productArgs: [ALLOW_HARIKUBE_TARGETS, `--ready-settle-time=${SETTLE_MS / 1000}s`],
});

const LUA = 'deploy/gitops/argocd/resource_customizations/harikube.info/TopologyConfig/health.lua';
const FLUX = 'deploy/gitops/flux/kustomizations.yaml';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}
interface LiveConfig {
  metadata: { name: string; generation: number; resourceVersion: string };
  status?: {
    deployStatus?: string;
    deployStatusReason?: string;
    observedGeneration?: number;
    conditions?: Condition[];
  };
}
const condition = (c: LiveConfig, type: string) =>
  c.status?.conditions?.find((x) => x.type === type);

/**
 * Every version of a config a reader sees while polling (each new
 * resourceVersion once, with when it was first read).
 */
function recordVersions(cp: ControlPlane, namespace: string, name: string) {
  const seen: { at: number; object: LiveConfig }[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const object = (await readConfig(cp, namespace, name)) as unknown as LiveConfig | undefined;
      if (
        object &&
        object.metadata.resourceVersion !== seen.at(-1)?.object.metadata.resourceVersion
      )
        seen.push({ at: Date.now(), object });
      await sleep(50);
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** kstatus, Flux's expressions and the Argo CD script over live objects. */
async function healthOf(objects: LiveConfig[]) {
  const dir = await mkdtemp(join(tmpdir(), 'gitops-e2e-'));
  try {
    const files = await Promise.all(
      objects.map(async (object, i) => {
        const file = join(dir, `${i}.json`);
        await writeFile(file, JSON.stringify(object));
        return file;
      }),
    );
    const statuses = (results: ToolResult[]) => results.map((r) => r.status);
    return {
      kstatus: statuses(await runTool('kstatus', files)),
      flux: statuses(await runTool('flux-health', [FLUX, ...files])),
      argo: await runTool('argocd-health', [LUA, ...files]),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function liveJson(cp: ControlPlane, ns: string, name: string): Promise<string> {
  const got = await cp.kubectl(['get', 'topologyconfig', '-n', ns, name, '-o', 'json']);
  assert.equal(got.code, 0, got.stderr);
  return got.stdout;
}

const waitForReady = (cp: ControlPlane, ns: string, name: string) =>
  waitFor(`${ns}/${name} to be Ready`, async () => {
    const c = JSON.parse(await liveJson(cp, ns, name)) as LiveConfig;
    return condition(c, 'Ready')?.status === 'True';
  });

const ownConfig = (ns: string, name: string, position: number, backend: string, extra?: string) =>
  configYaml({
    name,
    namespace: ns,
    position,
    targetSecret: `harikube/${ns}`,
    backends: [{ name: backend, endpoint: `sqlite://${backend}.db`, ...(extra ? { extra } : {}) }],
  });

describe('GitOps tools on live objects', () => {
  test('kubectl wait --for=condition=Ready returns once Active and settled; each version reads right to kstatus, Flux and Argo CD', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-gitops-ready';
      await ensureNamespace(cp, ns);
      const started = Date.now();
      // The object as the API server returned it on create: no status yet.
      const created = await cp.kubectl(['apply', '-f', '-', '-o', 'json'], {
        input: ownConfig(ns, 'orders', 1, 'orders-db'),
      });
      assert.equal(created.code, 0, created.stderr);
      const first = JSON.parse(created.stdout) as LiveConfig;
      const watch = recordVersions(cp, ns, 'orders');
      try {
        const wait = await cp.kubectl(
          ['wait', '--for=condition=Ready', 'topologyconfig/orders', '-n', ns, '--timeout=60s'],
          { timeoutMs: 70_000 },
        );
        assert.equal(wait.code, 0, wait.stderr);
        const waited = Date.now() - started;

        const live = (await readConfig(cp, ns, 'orders')) as unknown as LiveConfig;
        assert.equal(live.status?.deployStatus, 'Active');
        for (const type of ['Ready', 'Reconciling', 'Stalled']) {
          assert.equal(
            condition(live, type)?.observedGeneration,
            live.metadata.generation,
            `${type} carries observedGeneration`,
          );
        }
        assert.equal(condition(live, 'Ready')?.status, 'True');
        assert.equal(condition(live, 'Reconciling')?.status, 'False');
        assert.equal(condition(live, 'Stalled')?.status, 'False');
        assert.ok(waited >= SETTLE_MS, `kubectl wait returned after ${waited} ms`);

        // The versions the watch saw: first no status, then Active while
        // settling (Ready False, Reconciling True), then Ready.
        const ready = await waitFor('a reader to see Ready', async () =>
          watch.seen.find((s) => condition(s.object, 'Ready')?.status === 'True'),
        );
        const settling = watch.seen.find(
          (s) =>
            s.object.status?.deployStatus === 'Active' &&
            condition(s.object, 'Ready')?.reason === 'Settling',
        );
        assert.ok(settling, 'an Active version with Ready False (Settling) was served');
        assert.equal(condition(settling.object, 'Ready')?.status, 'False');
        assert.equal(condition(settling.object, 'Reconciling')?.status, 'True');
        assert.ok(
          ready.at - settling.at >= SETTLE_MS - 1000,
          `Ready came ${ready.at - settling.at} ms after Active (settle time ${SETTLE_MS} ms)`,
        );
        assert.equal(first.status?.conditions, undefined, 'the created object has no status yet');

        const health = await healthOf([first, settling.object, ready.object]);
        // kstatus alone reads a status-less object as Current (README "GitOps").
        assert.deepEqual(health.kstatus, ['Current', 'InProgress', 'Current']);
        assert.deepEqual(health.flux, ['Unknown', 'InProgress', 'Current']);
        assert.deepEqual(
          health.argo.map((r) => r.status),
          ['Progressing', 'Progressing', 'Healthy'],
        );

        // And from a plain `kubectl get -o json`, as a script would pipe it.
        const [now] = await runTool('kstatus', ['-'], await liveJson(cp, ns, 'orders'));
        assert.equal(now?.status, 'Current');
      } finally {
        await watch.stop();
      }
    }));

  test('kubectl wait --for=condition=Ready keeps waiting for a config in Error; Stalled says why', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-gitops-error';
      await ensureNamespace(cp, ns);
      // A Secret the product does not manage: it is never overwritten, so the config is in Error.
      const made = await cp.kubectl(['create', 'secret', 'generic', '-n', 'harikube', ns]);
      assert.equal(made.code, 0, made.stderr);
      await mustApply(cp, ownConfig(ns, 'orders', 1, 'error-db'));
      const errored = await waitForStatus(cp, ns, 'orders', 'Error');

      const wait = await cp.kubectl(
        ['wait', '--for=condition=Ready', 'topologyconfig/orders', '-n', ns, '--timeout=4s'],
        { timeoutMs: 30_000 },
      );
      assert.notEqual(wait.code, 0, 'kubectl wait must not return for a config in Error');
      assert.match(wait.stderr, /timed out/);
      const stalled = await cp.kubectl(
        ['wait', '--for=condition=Stalled', 'topologyconfig/orders', '-n', ns, '--timeout=30s'],
        { timeoutMs: 40_000 },
      );
      assert.equal(stalled.code, 0, stalled.stderr);

      const live = JSON.parse(await liveJson(cp, ns, 'orders')) as LiveConfig;
      const cond = condition(live, 'Stalled')!;
      assert.equal(cond.reason, 'TargetNotManaged');
      assert.equal(cond.message, errored.status.deployStatusReason);
      assert.equal(cond.observedGeneration, live.metadata.generation);
      assert.equal(condition(live, 'Ready')?.status, 'False');

      const health = await healthOf([live]);
      assert.deepEqual(health.kstatus, ['Failed']);
      assert.deepEqual(health.flux, ['Failed']);
      assert.deepEqual(
        { status: health.argo[0]!.status, message: health.argo[0]!.message },
        { status: 'Degraded', message: errored.status.deployStatusReason },
      );
    }));

  test('re-applying the same manifest changes nothing: server-side twice, client-side twice, kubectl diff empty', () =>
    withLogs(env, async ({ cp }) => {
      const ns = 'e2e-gitops-drift';
      await ensureNamespace(cp, ns);
      // Duplicated kinds: the mutating webhook de-duplicates them (README "GitOps").
      const manifest = ownConfig(
        ns,
        'orders',
        1,
        'drift-db',
        'namespace:\n  namespace: orders\n  kinds: [pods, configmaps, pods]',
      );
      await mustApply(cp, manifest, ['--server-side']);
      await waitForReady(cp, ns, 'orders'); // no status write comes after it
      const before = JSON.parse(await liveJson(cp, ns, 'orders')) as LiveConfig;
      await mustApply(cp, manifest, ['--server-side']);
      const afterSsa = JSON.parse(await liveJson(cp, ns, 'orders')) as LiveConfig;
      assert.equal(afterSsa.metadata.resourceVersion, before.metadata.resourceVersion);
      const ssaDiff = await cp.kubectl(['diff', '--server-side', '-f', '-'], { input: manifest });
      assert.equal(ssaDiff.code, 0, `kubectl diff --server-side: ${ssaDiff.stdout}`);

      // Client-side apply, each kind written once: unchanged, no diff.
      const ns2 = 'e2e-gitops-drift-csa';
      await ensureNamespace(cp, ns2);
      const once = ownConfig(
        ns2,
        'orders',
        1,
        'drift-csa-db',
        'namespace:\n  namespace: orders-csa\n  kinds: [pods, configmaps]',
      );
      await mustApply(cp, once);
      await waitForReady(cp, ns2, 'orders');
      assert.match(await mustApply(cp, once), /unchanged/);
      const diff = await cp.kubectl(['diff', '-f', '-'], { input: once });
      assert.equal(diff.code, 0, `kubectl diff: ${diff.stdout}`);

      // A repeated kind: kubectl sends it again ("configured"), the webhook
      // removes it again, and the object is not written (README "GitOps").
      const twice = once.replace('kinds: [pods, configmaps]', 'kinds: [pods, configmaps, pods]');
      await mustApply(cp, twice); // records the new last-applied annotation
      const rv = (JSON.parse(await liveJson(cp, ns2, 'orders')) as LiveConfig).metadata
        .resourceVersion;
      assert.match(await mustApply(cp, twice), /configured/);
      const after = JSON.parse(await liveJson(cp, ns2, 'orders')) as LiveConfig;
      assert.equal(after.metadata.resourceVersion, rv);
      const dupDiff = await cp.kubectl(['diff', '-f', '-'], { input: twice });
      assert.equal(dupDiff.code, 0, `kubectl diff: ${dupDiff.stdout}`);
    }));
});
