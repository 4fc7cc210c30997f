// End-to-end: the Helm chart installed with the real helm into a real
// kube-apiserver, as a platform team installs it, then the product started
// with the arguments of the Deployment helm installed (pods never run here:
// no kubelet), with its ServiceAccount's own token. It must admit and
// reconcile; the chart's `helm test` hook must pass; an upgrade must update
// the CRD; an uninstall must keep it. prometheus-operator's CRDs are installed
// first, so the API server validates the chart's ServiceMonitor and
// PrometheusRule against their schemas.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { freePort, startProduct, type Product } from '../harness/product.ts';
import { prometheusOperatorCrds } from '../harness/tools.ts';
import { CHART, helm, parseObjects } from '../unit/deploy/chart.ts';
import { find, parseFlag, type KubeObject } from '../unit/deploy/manifests.ts';
import { productCredentials } from './credentials.ts';
import {
  apply,
  configYaml,
  getJson,
  mustApply,
  readSecret,
  waitFor,
  waitForStatus,
} from './support.ts';

const NS = 'harikube-system';
const RELEASE = 'topology-webhook';
const CRD = 'topologyconfigs.harikube.info';
/** Flags that place the server on this machine instead of in a pod. */
const LOCAL_FLAGS = [
  '--webhook-bind-address',
  '--health-probe-bind-address',
  '--metrics-bind-address',
  '--log-level',
];

let cp: ControlPlane;
let product: Product | undefined;
let webhookPort: number;
let work: string;
let installed: KubeObject[];

/** helm against the test control plane. */
const helmHere = (args: string[], chart = CHART) =>
  helm([...args, '--kubeconfig', cp.kubeconfigPath], chart);

before(async () => {
  cp = await startControlPlane({ installCrd: false });
  work = mkdtempSync(join(tmpdir(), 'helm-e2e-'));
  webhookPort = await freePort();
  // The README's install: the target Secret's namespace exists (HariKube's),
  // the release namespace is made by helm.
  const ns = await cp.kubectl(['create', 'namespace', 'harikube']);
  assert.equal(ns.code, 0, ns.stderr);
  // A cluster with prometheus-operator (server-side: the CRDs outgrow the last-applied annotation).
  for (const crd of prometheusOperatorCrds()) {
    const applied = await cp.kubectl(['apply', '--server-side', '-f', crd]);
    assert.equal(applied.code, 0, applied.stderr);
  }
  const established = await cp.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/servicemonitors.monitoring.coreos.com',
    'crd/prometheusrules.monitoring.coreos.com',
    '--timeout=60s',
  ]);
  assert.equal(established.code, 0, established.stderr);
  const install = await helmHere([
    'install',
    RELEASE,
    '$CHART',
    '--namespace',
    NS,
    '--create-namespace',
    '--set',
    `webhook.url=https://127.0.0.1:${webhookPort}/`,
    '--set',
    'monitoring.serviceMonitor.enabled=true,monitoring.prometheusRule.enabled=true,monitoring.dashboard.enabled=true',
    '--set',
    'networkPolicy.enabled=true',
  ]);
  assert.equal(install.code, 0, `helm install: ${install.stderr}`);
  const manifest = await helmHere(['get', 'manifest', RELEASE, '--namespace', NS]);
  assert.equal(manifest.code, 0, manifest.stderr);
  installed = parseObjects(manifest.stdout);
});

after(async () => {
  await product?.stop();
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The arguments of the manager container helm installed. */
function deploymentArgs(): string[] {
  const spec = find(installed, 'Deployment', RELEASE).spec as {
    template: { spec: { containers: { name: string; args: string[] }[] } };
  };
  return spec.template.spec.containers.find((c) => c.name === 'manager')!.args;
}

describe('helm install (no --wait), then the product as the installed Deployment runs it', () => {
  before(async () => {
    const credentials = await productCredentials(cp);
    const args = deploymentArgs().filter((a) => !LOCAL_FLAGS.includes(parseFlag(a).name));
    product = await startProduct(cp, {
      webhookPort,
      kubeconfigPath: credentials.kubeconfigPath,
      args,
    });
    await product.waitReady(60_000);
  });

  test('the release is deployed and the CRD it installed is established', async () => {
    const status = await helmHere(['status', RELEASE, '--namespace', NS, '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(
      (JSON.parse(status.stdout) as { info: { status: string } }).info.status,
      'deployed',
    );
    const established = await cp.kubectl([
      'wait',
      '--for=condition=Established',
      `crd/${CRD}`,
      '--timeout=30s',
    ]);
    assert.equal(established.code, 0, established.stderr);
  });

  test('the API server accepted the ServiceMonitor, PrometheusRule, dashboard and NetworkPolicy', async () => {
    for (const [kind, name] of [
      ['servicemonitor', RELEASE],
      ['prometheusrule', RELEASE],
      ['configmap', `${RELEASE}-dashboard`],
      ['networkpolicy', RELEASE],
    ] as const) {
      const got = await cp.kubectl(['get', kind, '-n', NS, name, '-o', 'name']);
      assert.equal(got.code, 0, `${kind} ${name}: ${got.stderr}`);
    }
    const rule = await getJson<{ spec: { groups: { rules: { alert: string }[] }[] } }>(cp, [
      'prometheusrule',
      '-n',
      NS,
      RELEASE,
    ]);
    assert.ok(rule!.spec.groups[0]!.rules.some((r) => r.alert === 'TopologyNoLeader'));
    // The kustomize bundle is the same (a unit test keeps them equal); the schema takes it too.
    const kustomize = await cp.kubectl([
      'apply',
      '--dry-run=server',
      '-k',
      join(CHART, '../../monitoring'),
    ]);
    assert.equal(kustomize.code, 0, kustomize.stderr);
  });

  test('the Deployment carries leader election and the cluster policy; the product runs with them', () => {
    const flags = new Map(deploymentArgs().map((a) => [parseFlag(a).name, parseFlag(a).value]));
    assert.ok(flags.has('--leader-elect'));
    assert.equal(flags.get('--webhook-service'), `${NS}/${RELEASE}`);
    assert.equal(flags.get('--allowed-target-secrets'), 'harikube/topology-config');
    assert.ok(
      product!.logs().some((l) => l.msg === 'cache synced'),
      'its caches synced with the chart’s RBAC',
    );
  });

  test('a config that breaks a rule is refused with the reason', async () => {
    const result = await apply(
      cp,
      configYaml({
        name: 'bad-target',
        namespace: 'default',
        targetSecret: 'kube-system/stolen',
        backends: [{ name: 'shirts', endpoint: 'sqlite:///shirts.db' }],
      }),
    );
    assert.notEqual(result.code, 0, 'refused');
    // The webhook's reason (the CRD's schema allows any namespace/name).
    assert.match(result.stderr, /spec\.targetSecret: .* is not allowed by the cluster policy/);
  });

  test('a valid config becomes Active and its backend is in the merged Secret', async () => {
    await mustApply(
      cp,
      configYaml({
        name: 'shirts',
        namespace: 'default',
        backends: [{ name: 'shirts', endpoint: 'sqlite:///shirts.db' }],
      }),
    );
    const config = await waitForStatus(cp, 'default', 'shirts', 'Active', 60_000);
    assert.equal(
      config.spec.targetSecret,
      'harikube/topology-config',
      'defaulted by the mutating webhook',
    );
    const secret = await readSecret(cp, 'harikube', 'topology-config');
    assert.ok(secret, 'the merged Secret exists');
    assert.equal(Object.keys(secret.data).length, 1);
  });

  test('the helm test hook (a server-side dry run, as its ServiceAccount) passes and stores nothing', async () => {
    const rendered = await helm([
      'template',
      RELEASE,
      '$CHART',
      '--namespace',
      NS,
      '--show-only',
      'templates/tests/webhook-test.yaml',
      '--kube-version',
      cp.version,
    ]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const hook = parseObjects(rendered.stdout);
    const pod = find(hook, 'Pod', `${RELEASE}-test`);
    const podSpec = pod.spec as {
      serviceAccountName: string;
      containers: { command: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
      volumes: { name: string; configMap?: { name: string } }[];
    };
    assert.equal(pod.metadata.annotations?.['helm.sh/hook'], 'test');
    // What `helm test` creates before the Pod: its ServiceAccount, Role, binding and ConfigMap.
    await mustApply(
      cp,
      hook
        .filter((o) => o.kind !== 'Pod')
        .map((o) => JSON.stringify(o))
        .join('\n---\n'),
    );
    // The Pod's command, with the ConfigMap's file where the Pod mounts it.
    const container = podSpec.containers[0]!;
    const mount = container.volumeMounts[0]!;
    const configMap = find(
      hook,
      'ConfigMap',
      podSpec.volumes.find((v) => v.name === mount.name)!.configMap!.name,
    );
    for (const [file, text] of Object.entries(configMap.data as Record<string, string>))
      writeFileSync(join(work, file), text);
    const [binary, ...args] = container.command;
    assert.equal(binary, 'kubectl');
    const local = args.map((a) => a.replace(`${mount.mountPath}/`, `${work}/`));
    const user = `system:serviceaccount:${NS}:${podSpec.serviceAccountName}`;
    const ran = await cp.kubectl([...local, `--as=${user}`]);
    assert.equal(ran.code, 0, `the hook's command failed: ${ran.stderr}`);
    assert.match(ran.stdout, /topologyconfig\.harikube\.info\/topology-webhook-test/);
    const reviewed = await waitFor('the dry run to reach the webhook', async () =>
      product!
        .logs()
        .find(
          (l) =>
            l.msg === 'admission review' &&
            l.object === `${NS}/${RELEASE}-test` &&
            l.dryRun === true,
        ),
    );
    assert.equal(reviewed.allowed, true);
    const stored = await cp.kubectl(['get', 'topologyconfig', '-n', NS, `${RELEASE}-test`]);
    assert.notEqual(stored.code, 0, 'a dry run stores nothing');
    // And the hook's ServiceAccount can do nothing else.
    const other = await cp.kubectl([
      'auth',
      'can-i',
      'delete',
      'topologyconfigs',
      '-n',
      NS,
      `--as=${user}`,
    ]);
    assert.equal(other.stdout.trim(), 'no');
  });

  test('helm upgrade with a changed CRD updates it in the cluster; configs stay', async () => {
    // The next chart version: a new printer column in the CRD template.
    const next = join(work, 'chart');
    cpSync(CHART, next, { recursive: true });
    const crdFile = join(next, 'templates/crd.yaml');
    const crdText = readFileSync(crdFile, 'utf8');
    const column = '      additionalPrinterColumns:\n';
    assert.ok(crdText.includes(column));
    writeFileSync(
      crdFile,
      crdText.replace(
        column,
        `${column}        - jsonPath: .spec.backends[0].name\n          name: FirstBackend\n          type: string\n`,
      ),
    );
    const chartFile = join(next, 'Chart.yaml');
    writeFileSync(
      chartFile,
      readFileSync(chartFile, 'utf8').replace(/^version: .*$/m, 'version: 0.1.1'),
    );
    const upgrade = await helmHere(
      ['upgrade', RELEASE, next, '--namespace', NS, '--reuse-values'],
      next,
    );
    assert.equal(upgrade.code, 0, `helm upgrade: ${upgrade.stderr}`);
    const crd = await getJson<{
      spec: { versions: { additionalPrinterColumns: { name: string }[] }[] };
    }>(cp, ['crd', CRD]);
    assert.ok(
      crd!.spec.versions[0]!.additionalPrinterColumns.some((c) => c.name === 'FirstBackend'),
      'the upgraded CRD is in the cluster',
    );
    const table = await cp.kubectl(['get', 'topologyconfig', '-n', 'default', 'shirts']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /FIRSTBACKEND/);
    assert.match(table.stdout, /shirts\s+Active/);
  });

  test('helm uninstall keeps the CRD and the configs (helm.sh/resource-policy: keep)', async () => {
    const uninstall = await helmHere(['uninstall', RELEASE, '--namespace', NS]);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    assert.match(uninstall.stdout + uninstall.stderr, /kept due to the resource policy/);
    const gone = await cp.kubectl(['get', 'validatingwebhookconfiguration', RELEASE]);
    assert.notEqual(gone.code, 0, 'the webhook configurations are uninstalled');
    const config = await getJson<{ spec: unknown }>(cp, [
      'topologyconfig',
      '-n',
      'default',
      'shirts',
    ]);
    assert.ok(config, 'the config survives with its CRD');
  });
});
