// The Helm chart (deploy/chart/topology-webhook) with the real helm: it
// renders what deploy/ renders (so every test of deploy/ holds for it too),
// lints, renders every certificate mode, and its schema refuses what it must.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertSameObjects,
  helm,
  parseObjects,
  template,
  valuesArgs,
  KUBE_VERSION,
  NAMESPACE,
} from './chart.ts';
import { find, ofKind, parseFlag, render, rulesOf, type KubeObject } from './manifests.ts';

const NAME = 'topology-webhook';
const SA = { kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE };

const withoutNamespaces = (objects: KubeObject[]) => objects.filter((o) => o.kind !== 'Namespace');
const args = (objects: KubeObject[]) => {
  const spec = find(objects, 'Deployment', NAME).spec as {
    template: { spec: { containers: { args: string[] }[] } };
  };
  return spec.template.spec.containers[0]!.args;
};
const webhookList = (objects: KubeObject[], kind: string) =>
  find(objects, kind, NAME).webhooks as {
    failurePolicy: string;
    timeoutSeconds: number;
    namespaceSelector?: unknown;
    clientConfig: { url?: string; service?: unknown; caBundle?: string };
  }[];

/** `helm lint --strict` with these values; the result's code and output. */
async function lint(values?: object) {
  const v = valuesArgs(values);
  try {
    return await helm([
      'lint',
      '--strict',
      '$CHART',
      '--namespace',
      NAMESPACE,
      '--kube-version',
      KUBE_VERSION,
      ...v.args,
    ]);
  } finally {
    v.cleanup();
  }
}

/** helm template with these values is refused, and helm says why. */
async function refused(values: object, reason: RegExp) {
  await assert.rejects(template(values), reason);
}

describe('the chart and deploy/ are one source of truth', () => {
  test('with defaults the chart renders the objects of deploy/ but its Namespaces', async () => {
    const [chart, kustomize] = await Promise.all([
      template(undefined, ['--skip-tests']),
      render('deploy'),
    ]);
    assertSameObjects(chart, withoutNamespaces(kustomize));
  });

  test("namespaces.create=true adds deploy/'s Namespace of the target Secret, not the release's", async () => {
    const [chart, kustomize] = await Promise.all([
      template({ namespaces: { create: true } }, ['--skip-tests']),
      render('deploy'),
    ]);
    assertSameObjects(
      chart,
      kustomize.filter((o) => !(o.kind === 'Namespace' && o.metadata.name === NAMESPACE)),
    );
  });

  test('certificate.mode=cert-manager renders the objects of deploy/overlays/cert-manager', async () => {
    const [chart, kustomize] = await Promise.all([
      template({ certificate: { mode: 'cert-manager' } }, ['--skip-tests']),
      render('deploy/overlays/cert-manager'),
    ]);
    assertSameObjects(chart, withoutNamespaces(kustomize));
  });

  test('networkPolicy.enabled renders deploy/network-policy beside deploy/', async () => {
    const [chart, kustomize, policy] = await Promise.all([
      template({ networkPolicy: { enabled: true } }, ['--skip-tests']),
      render('deploy'),
      render('deploy/network-policy'),
    ]);
    assertSameObjects(chart, [...withoutNamespaces(kustomize), ...policy]);
  });
});

describe('helm lint', () => {
  for (const [mode, values] of [
    ['defaults', undefined],
    ['cert-manager', { certificate: { mode: 'cert-manager' } }],
    [
      'existing-secret',
      {
        certificate: { mode: 'existing-secret', existingSecret: { name: 'tls', caBundle: 'Q0E=' } },
      },
    ],
    [
      'everything optional on',
      {
        networkPolicy: { enabled: true },
        namespaces: { create: true },
        webhook: { failurePolicy: 'Ignore', acknowledgeFailOpen: true },
      },
    ],
  ] as const) {
    test(`passes --strict with ${mode}`, async () => {
      const result = await lint(values);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe('certificate modes', () => {
  test('self-provisioned (default): no cert path, the server may inject caBundle and write its TLS Secret', async () => {
    const objects = await template();
    assert.ok(!args(objects).some((a) => a.startsWith('--webhook-cert-path')));
    const names = rulesOf(objects, SA).flatMap((r) => r.rule.resourceNames ?? []);
    assert.ok(names.includes(`${NAME}-tls`));
    assert.ok(names.includes(NAME), 'webhook configurations by name');
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'])
      assert.equal(webhookList(objects, kind)[0]!.clientConfig.caBundle, undefined);
  });

  test('existing-secret: the Secret is mounted at --webhook-cert-path, caBundle comes from the values, no CA or TLS Secret writes', async () => {
    const objects = await template({
      certificate: {
        mode: 'existing-secret',
        existingSecret: { name: 'my-serving-cert', caBundle: 'Q0EgUEVN' },
      },
    });
    assert.ok(args(objects).includes('--webhook-cert-path=/tmp/k8s-webhook-server/serving-certs'));
    const pod = (
      find(objects, 'Deployment', NAME).spec as {
        template: { spec: { volumes: { name: string; secret?: { secretName: string } }[] } };
      }
    ).template.spec;
    assert.deepEqual(pod.volumes.find((v) => v.name === 'serving-cert')?.secret, {
      secretName: 'my-serving-cert',
    });
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const hooks = webhookList(objects, kind);
      assert.equal(hooks[0]!.clientConfig.caBundle, 'Q0EgUEVN');
      assert.equal(find(objects, kind, NAME).metadata.annotations, undefined, 'no CA injector');
    }
    assert.equal(ofKind(objects, 'Certificate').length, 0);
    const rules = rulesOf(objects, SA).map((r) => r.rule);
    assert.ok(
      !rules.some((r) => r.resources?.some((res) => res.includes('webhookconfigurations'))),
    );
    assert.ok(!rules.some((r) => r.resourceNames?.includes(`${NAME}-tls`)));
  });

  test('existing-secret without a Secret name or caBundle is refused', async () => {
    await refused({ certificate: { mode: 'existing-secret' } }, /existingSecret|caBundle|name/);
    await refused(
      { certificate: { mode: 'existing-secret', existingSecret: { name: 'tls' } } },
      /caBundle/,
    );
  });

  test('cert-manager with an issuerRef of your own signs with it and makes no CA', async () => {
    const objects = await template({
      certificate: {
        mode: 'cert-manager',
        certManager: { issuerRef: { kind: 'ClusterIssuer', name: 'corp-ca' } },
      },
    });
    assert.deepEqual(ofKind(objects, 'Issuer'), []);
    const certs = ofKind(objects, 'Certificate');
    assert.equal(certs.length, 1);
    assert.deepEqual((certs[0]!.spec as { issuerRef: unknown }).issuerRef, {
      kind: 'ClusterIssuer',
      name: 'corp-ca',
    });
  });

  test('an unknown mode is refused by the schema', async () => {
    await refused({ certificate: { mode: 'letsencrypt' } }, /mode/);
  });
});

describe('webhook settings', () => {
  test('failurePolicy, timeoutSeconds and namespaceSelector reach both webhooks', async () => {
    const selector = { matchExpressions: [{ key: 'tenant', operator: 'Exists' }] };
    const objects = await template({
      webhook: {
        failurePolicy: 'Ignore',
        acknowledgeFailOpen: true,
        timeoutSeconds: 12,
        namespaceSelector: selector,
      },
    });
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const [hook] = webhookList(objects, kind);
      assert.equal(hook!.failurePolicy, 'Ignore');
      assert.equal(hook!.timeoutSeconds, 12);
      assert.deepEqual(hook!.namespaceSelector, selector);
    }
  });

  test('failurePolicy Ignore without acknowledgeFailOpen is refused', async () => {
    await refused({ webhook: { failurePolicy: 'Ignore' } }, /acknowledgeFailOpen/);
  });

  test('there is no objectSelector value (tenants label their own objects)', async () => {
    await refused({ webhook: { objectSelector: { matchLabels: { a: 'b' } } } }, /objectSelector/);
  });

  test('timeoutSeconds outside 1-30 is refused', async () => {
    await refused({ webhook: { timeoutSeconds: 31 } }, /timeoutSeconds/);
  });

  test('webhook.url points both webhooks at a URL instead of the Service', async () => {
    const objects = await template({ webhook: { url: 'https://127.0.0.1:9443/' } });
    assert.equal(
      webhookList(objects, 'ValidatingWebhookConfiguration')[0]!.clientConfig.url,
      'https://127.0.0.1:9443/validate-harikube-info-v1-topologyconfig',
    );
    assert.equal(
      webhookList(objects, 'MutatingWebhookConfiguration')[0]!.clientConfig.url,
      'https://127.0.0.1:9443/mutate-harikube-info-v1-topologyconfig',
    );
    assert.equal(
      webhookList(objects, 'MutatingWebhookConfiguration')[0]!.clientConfig.service,
      undefined,
    );
  });
});

describe('server settings become flags', () => {
  test('policy, leader election, log level and metrics', async () => {
    const objects = await template({
      policy: {
        allowedTargetSecrets: ['harikube/topology-config', 'team-a/*', 'team-b/routes'],
        defaultTargetSecret: 'team-b/routes',
        allowCrossNamespaceDecryptSecret: true,
        platformNamespaces: ['harikube', 'platform'],
      },
      leaderElection: {
        id: 'my-lease',
        leaseDuration: '30s',
        renewDeadline: '20s',
        retryPeriod: '4s',
      },
      logLevel: 'debug',
      metrics: { enabled: false },
    });
    const flags = new Map(args(objects).map((a) => [parseFlag(a).name, parseFlag(a).value]));
    assert.equal(
      flags.get('--allowed-target-secrets'),
      'harikube/topology-config,team-a/*,team-b/routes',
    );
    assert.equal(flags.get('--default-target-secret'), 'team-b/routes');
    assert.equal(flags.get('--allow-cross-namespace-decrypt-secret'), 'true');
    assert.equal(flags.get('--platform-namespaces'), 'harikube,platform');
    assert.equal(flags.get('--leader-election-id'), 'my-lease');
    assert.equal(flags.get('--leader-elect-lease-duration'), '30s');
    assert.equal(flags.get('--leader-elect-renew-deadline'), '20s');
    assert.equal(flags.get('--leader-elect-retry-period'), '4s');
    assert.equal(flags.get('--log-level'), 'debug');
    assert.equal(flags.get('--metrics-bind-address'), '0');
    // RBAC follows: one target Role per namespace, by name unless "ns/*"; the Lease by its id.
    const granted = rulesOf(objects, SA);
    const writes = (ns: string) =>
      granted.filter(
        (g) =>
          g.namespace === ns &&
          g.rule.verbs.includes('update') &&
          g.rule.resources?.includes('secrets'),
      );
    assert.deepEqual(
      writes('team-a').map((g) => g.rule.resourceNames),
      [undefined],
    );
    assert.deepEqual(
      writes('team-b').map((g) => g.rule.resourceNames),
      [['routes']],
    );
    assert.deepEqual(
      writes('harikube').map((g) => g.rule.resourceNames),
      [['topology-config']],
    );
    assert.ok(granted.some((g) => g.rule.resourceNames?.includes('my-lease')));
    assert.ok(
      !granted.some((g) => g.rule.resources?.includes('tokenreviews')),
      'no metrics auth without metrics',
    );
    assert.deepEqual(
      ofKind(objects, 'Service').flatMap((s) =>
        (s.spec as { ports: { name: string }[] }).ports.map((p) => p.name),
      ),
      ['webhook'],
    );
  });

  test('metrics.secure=false: --metrics-secure=false, an http-metrics port, no metrics RBAC, a plain ServiceMonitor', async () => {
    const objects = await template({
      metrics: { secure: false },
      monitoring: { serviceMonitor: { enabled: true } },
    });
    assert.ok(args(objects).includes('--metrics-secure=false'));
    const ports = (find(objects, 'Service', NAME).spec as { ports: { name: string }[] }).ports;
    assert.deepEqual(
      ports.map((p) => p.name),
      ['webhook', 'http-metrics'],
    );
    assert.ok(!rulesOf(objects, SA).some((g) => g.rule.resources?.includes('tokenreviews')));
    assert.deepEqual(
      ofKind(objects, 'ClusterRole').filter((r) => r.metadata.name.includes('metrics')),
      [],
    );
    const endpoints = (find(objects, 'ServiceMonitor', NAME).spec as { endpoints: object[] })
      .endpoints;
    assert.deepEqual(endpoints, [
      { port: 'http-metrics', scheme: 'http', path: '/metrics', interval: '30s' },
    ]);
  });

  test('leaderElection.enabled=false drops --leader-elect and the Lease Role', async () => {
    const objects = await template({ leaderElection: { enabled: false } });
    assert.ok(!args(objects).some((a) => a.startsWith('--leader-elect')));
    assert.ok(!rulesOf(objects, SA).some((g) => g.rule.resources?.includes('leases')));
  });

  test('a log level or target Secret the server would refuse is refused by the schema', async () => {
    await refused({ logLevel: 'verbose' }, /logLevel/);
    await refused({ policy: { allowedTargetSecrets: ['no-namespace'] } }, /allowedTargetSecrets/);
    await refused({ policy: { defaultTargetSecret: 'a/b/c' } }, /defaultTargetSecret/);
  });
});

describe('workload settings', () => {
  test('image, replicas, resources, PDB, affinity and spread', async () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'pool', operator: 'In', values: ['system'] }] },
          ],
        },
      },
    };
    const spread = [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': NAME } },
      },
    ];
    // Helm merges maps with the defaults: null removes a default (here the CPU limit).
    const resources = { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } };
    const objects = await template({
      image: { repository: 'registry.example.com/topology-webhook', tag: 'v9.9.9' },
      replicas: 3,
      resources: { ...resources, limits: { cpu: null, memory: '512Mi' } },
      podDisruptionBudget: { maxUnavailable: 1 },
      affinity,
      topologySpreadConstraints: spread,
    });
    const spec = find(objects, 'Deployment', NAME).spec as {
      replicas: number;
      template: {
        spec: {
          affinity: unknown;
          topologySpreadConstraints: unknown;
          containers: { image: string; resources: unknown }[];
        };
      };
    };
    assert.equal(spec.replicas, 3);
    assert.equal(
      spec.template.spec.containers[0]!.image,
      'registry.example.com/topology-webhook:v9.9.9',
    );
    assert.deepEqual(spec.template.spec.containers[0]!.resources, resources);
    assert.deepEqual(spec.template.spec.affinity, affinity);
    assert.deepEqual(spec.template.spec.topologySpreadConstraints, spread);
    const pdb = find(objects, 'PodDisruptionBudget', NAME).spec as Record<string, unknown>;
    assert.equal(pdb.maxUnavailable, 1);
    assert.equal(pdb.minAvailable, undefined);
  });

  test('without a tag the image is the chart appVersion; a digest wins over a tag', async () => {
    const image = async (values?: object) =>
      (
        find(await template(values), 'Deployment', NAME).spec as {
          template: { spec: { containers: { image: string }[] } };
        }
      ).template.spec.containers[0]!.image;
    assert.equal(await image(), 'topology-webhook:0.1.0');
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(await image({ image: { tag: 'v1', digest } }), `topology-webhook@${digest}`);
  });

  test('crds.install=false leaves the CRD out; crds.keep marks it to survive helm uninstall', async () => {
    assert.deepEqual(
      ofKind(await template({ crds: { install: false } }), 'CustomResourceDefinition'),
      [],
    );
    const [crd] = ofKind(await template(), 'CustomResourceDefinition');
    assert.equal(crd!.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
  });

  test('another release name prefixes every name and the flags, RBAC and webhooks follow', async () => {
    const result = await helm([
      'template',
      'acme',
      '$CHART',
      '--namespace',
      'ops',
      '--kube-version',
      KUBE_VERSION,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const objects = parseObjects(result.stdout);
    const full = 'acme-topology-webhook';
    const flags = new Map(args2(objects, full).map((a) => [parseFlag(a).name, parseFlag(a).value]));
    assert.equal(flags.get('--webhook-config-name'), full);
    assert.equal(flags.get('--webhook-service'), `ops/${full}`);
    const sa = { kind: 'ServiceAccount', name: full, namespace: 'ops' };
    const names = rulesOf(objects, sa).flatMap((g) => g.rule.resourceNames ?? []);
    assert.ok(names.includes(full) && names.includes(`${full}-tls`));
    find(objects, 'ValidatingWebhookConfiguration', full);
  });
});

function args2(objects: KubeObject[], name: string): string[] {
  const spec = find(objects, 'Deployment', name).spec as {
    template: { spec: { containers: { args: string[] }[] } };
  };
  return spec.template.spec.containers[0]!.args;
}
