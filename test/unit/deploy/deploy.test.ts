// What users rely on in deploy/: the rendered manifests (kubectl kustomize),
// not the source files. Rendering uses the real kubectl on PATH.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GRANT_CRD_NAME } from '../../../src/resource/grant.ts';
import {
  CRD_NAME,
  DEFAULT_TARGET_SECRET,
  GROUP,
  PLURAL,
  VERSION,
} from '../../../src/resource/schema.ts';
import {
  SERVER_FLAGS,
  find,
  ofKind,
  parseFlag,
  render,
  rulesOf,
  type KubeObject,
  type PolicyRule,
} from './manifests.ts';

const NS = 'harikube-system';
const NAME = 'topology-webhook';
/** The Secret the replicas share a self-provisioned CA and certificate through: `<--webhook-config-name>-tls`. */
const TLS_SECRET = `${NAME}-tls`;
const SA = { kind: 'ServiceAccount', name: NAME, namespace: NS };
const VALIDATE_PATH = '/validate-harikube-info-v1-topologyconfig';
const MUTATE_PATH = '/mutate-harikube-info-v1-topologyconfig';

// Rendered once per file; every test awaits the same promise.
const renders = new Map<string, Promise<KubeObject[]>>();
function rendered(dir: string): Promise<KubeObject[]> {
  let p = renders.get(dir);
  if (!p) {
    p = render(dir);
    p.catch(() => {}); // reported by the tests that await it
    renders.set(dir, p);
  }
  return p;
}

// Typed views of the fields these tests read.
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Probe {
  httpGet?: { path: string; port: number | string; scheme?: string };
}
interface PodSpec {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seccompProfile?: { type: string };
  };
  topologySpreadConstraints?: {
    topologyKey: string;
    maxSkew: number;
    labelSelector?: { matchLabels?: Record<string, string> };
  }[];
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; secret?: { secretName: string } }[];
}
interface DeploymentSpec {
  replicas: number;
  strategy?: { rollingUpdate?: { maxUnavailable?: number | string } };
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
interface Webhook {
  name: string;
  admissionReviewVersions: string[];
  sideEffects: string;
  failurePolicy: string;
  matchPolicy: string;
  timeoutSeconds: number;
  reinvocationPolicy?: string;
  clientConfig: {
    service?: { name: string; namespace: string; path: string; port: number };
    url?: string;
    caBundle?: string;
  };
  rules: {
    apiGroups: string[];
    apiVersions: string[];
    resources: string[];
    operations: string[];
    scope: string;
  }[];
  namespaceSelector?: unknown;
  objectSelector?: unknown;
}

const deployment = (objects: KubeObject[]) =>
  find(objects, 'Deployment', NAME).spec as DeploymentSpec;
const manager = (objects: KubeObject[]) => {
  const containers = deployment(objects).template.spec.containers;
  assert.equal(containers.length, 1);
  return containers[0]!;
};
const webhooks = (objects: KubeObject[], kind: string) =>
  find(objects, kind, NAME).webhooks as Webhook[];
const flags = (container: Container) =>
  new Map((container.args ?? []).map((a) => [parseFlag(a).name, parseFlag(a).value]));
const portNumber = (container: Container, port: number | string) =>
  typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;

/** One string per (namespace, group, resource, verb, resourceName) the service account may use. */
function permissions(objects: KubeObject[]): string[] {
  const out = new Set<string>();
  for (const { namespace, rule } of rulesOf(objects, SA)) {
    for (const verb of rule.verbs) {
      for (const url of rule.nonResourceURLs ?? []) out.add(`* nonResourceURL ${url} ${verb}`);
      for (const group of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const name of rule.resourceNames ?? ['*any*']) {
            out.add(`${namespace ?? '*cluster*'} ${group || 'core'} ${resource} ${verb} ${name}`);
          }
        }
      }
    }
  }
  return [...out].sort();
}

describe('deploy/ renders the full install', () => {
  test('kubectl kustomize deploy/ renders exactly these objects', async () => {
    const objects = await rendered('deploy');
    const inventory = objects
      .map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`)
      .sort();
    assert.deepEqual(inventory, [
      'ClusterRole -/topology-webhook-ca-injector',
      'ClusterRole -/topology-webhook-existing-data',
      'ClusterRole -/topology-webhook-manager',
      'ClusterRole -/topology-webhook-metrics-auth',
      'ClusterRole -/topology-webhook-metrics-reader',
      'ClusterRole -/topologyconfig-admin',
      'ClusterRole -/topologyconfig-editor',
      'ClusterRole -/topologyconfig-routing-override',
      'ClusterRole -/topologyconfig-viewer',
      'ClusterRoleBinding -/topology-webhook-ca-injector',
      'ClusterRoleBinding -/topology-webhook-existing-data',
      'ClusterRoleBinding -/topology-webhook-manager',
      'ClusterRoleBinding -/topology-webhook-metrics-auth',
      `CustomResourceDefinition -/${CRD_NAME}`,
      `CustomResourceDefinition -/${GRANT_CRD_NAME}`,
      'Deployment harikube-system/topology-webhook',
      'MutatingWebhookConfiguration -/topology-webhook',
      'Namespace -/harikube',
      'Namespace -/harikube-system',
      'PodDisruptionBudget harikube-system/topology-webhook',
      'Role harikube-system/topology-webhook-leader-election',
      'Role harikube-system/topology-webhook-tls-secret',
      'Role harikube/topology-webhook-target-secret',
      'RoleBinding harikube-system/topology-webhook-leader-election',
      'RoleBinding harikube-system/topology-webhook-tls-secret',
      'RoleBinding harikube/topology-webhook-target-secret',
      'Service harikube-system/topology-webhook',
      'ServiceAccount harikube-system/topology-webhook',
      'ValidatingWebhookConfiguration -/topology-webhook',
    ]);
  });

  test('the product namespace enforces the restricted Pod Security Standard', async () => {
    const ns = find(await rendered('deploy'), 'Namespace', NS);
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });
});

describe('webhook configurations', () => {
  const cases = [
    {
      kind: 'ValidatingWebhookConfiguration',
      path: VALIDATE_PATH,
      operations: ['CREATE', 'UPDATE', 'DELETE'],
      reinvocationPolicy: undefined,
    },
    {
      kind: 'MutatingWebhookConfiguration',
      path: MUTATE_PATH,
      operations: ['CREATE', 'UPDATE'],
      reinvocationPolicy: 'IfNeeded',
    },
  ];
  for (const c of cases) {
    test(`${c.kind}: only ${PLURAL}.${GROUP}/${VERSION}, fails closed, v1 reviews, short timeout`, async () => {
      const list = webhooks(await rendered('deploy'), c.kind);
      assert.equal(list.length, 1);
      const w = list[0]!;
      assert.deepEqual(w.admissionReviewVersions, ['v1']);
      assert.equal(w.sideEffects, 'None');
      assert.equal(w.failurePolicy, 'Fail');
      assert.equal(w.matchPolicy, 'Equivalent');
      assert.ok(
        w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10,
        `timeoutSeconds ${w.timeoutSeconds}`,
      );
      assert.equal(w.reinvocationPolicy, c.reinvocationPolicy);
      // Scoped to the resource itself: no wildcard, no subresource (status writes bypass it).
      assert.deepEqual(w.rules, [
        {
          apiGroups: [GROUP],
          apiVersions: [VERSION],
          resources: [PLURAL],
          operations: c.operations,
          scope: 'Namespaced',
        },
      ]);
      assert.ok(w.name.endsWith(`.${GROUP}`), `webhook name ${w.name} is fully qualified`);
      // caBundle is injected at run time; a stale one in the manifest would be overwritten anyway.
      assert.equal(w.clientConfig.caBundle, undefined);
      assert.equal(w.clientConfig.url, undefined);
    });

    test(`${c.kind}: calls the webhook Service on port 443 at ${c.path}, which reaches the webhook port`, async () => {
      const objects = await rendered('deploy');
      const service = find(objects, 'Service', NAME);
      const ref = webhooks(objects, c.kind)[0]!.clientConfig.service;
      assert.deepEqual(ref, {
        name: service.metadata.name,
        namespace: service.metadata.namespace,
        path: c.path,
        port: 443,
      });
      const ports = (service.spec as { ports: { port: number; targetPort: number | string }[] })
        .ports;
      const https = ports.find((p) => p.port === 443);
      assert.ok(https, 'Service has port 443');
      assert.equal(portNumber(manager(objects), https.targetPort), 9443);
    });
  }
});

describe('manager Deployment', () => {
  test('runs at least 2 replicas, never scales below its serving count during a rollout', async () => {
    const spec = deployment(await rendered('deploy'));
    assert.ok(spec.replicas >= 2, `replicas ${spec.replicas}`);
    assert.equal(spec.strategy?.rollingUpdate?.maxUnavailable, 0);
    assert.deepEqual(
      Object.entries(spec.selector.matchLabels).filter(
        ([k, v]) => spec.template.metadata.labels[k] !== v,
      ),
      [],
      'selector matches the pod template',
    );
  });

  test("has the seed's security context plus a read-only root filesystem", async () => {
    const objects = await rendered('deploy');
    const pod = deployment(objects).template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, 'numeric non-root user');
    const sc = manager(objects).securityContext;
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.deepEqual(sc?.capabilities, { drop: ['ALL'] });
    assert.notEqual(sc?.privileged, true);
  });

  test('has the requested resources, probes, grace period, spread, service account and env', async () => {
    const objects = await rendered('deploy');
    const pod = deployment(objects).template.spec;
    const c = manager(objects);
    assert.equal(c.image, 'topology-webhook:latest');
    assert.equal(c.command, undefined, "the image's ENTRYPOINT runs the server");
    assert.deepEqual(c.resources, {
      requests: { cpu: '10m', memory: '64Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });
    for (const [probe, path] of [
      [c.livenessProbe, '/healthz'],
      [c.readinessProbe, '/readyz'],
    ] as const) {
      assert.equal(probe?.httpGet?.path, path);
      assert.equal(portNumber(c, probe.httpGet.port), 8081);
      assert.ok(probe.httpGet.scheme === undefined || probe.httpGet.scheme === 'HTTP');
    }
    assert.equal(pod.serviceAccountName, NAME);
    assert.equal(pod.terminationGracePeriodSeconds, 30);
    const spread = pod.topologySpreadConstraints?.find(
      (t) => t.topologyKey === 'kubernetes.io/hostname',
    );
    assert.ok(spread, 'spread across nodes');
    assert.deepEqual(spread.labelSelector?.matchLabels, deployment(objects).selector.matchLabels);
    const podNamespace = c.env?.find((e) => e.name === 'POD_NAMESPACE');
    assert.equal(podNamespace?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    assert.ok(tmp, 'writable /tmp');
    assert.ok(pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, '/tmp is an emptyDir');
  });

  test('passes only flags the server has, each once, and elects a leader', async () => {
    const args = manager(await rendered('deploy')).args ?? [];
    const names = args.map((a) => parseFlag(a).name);
    assert.deepEqual(
      names.filter((n) => !(SERVER_FLAGS as readonly string[]).includes(n)),
      [],
    );
    assert.equal(new Set(names).size, names.length, 'no flag twice');
    assert.ok(names.includes('--leader-elect'));
  });

  test('flag values agree with the ports, Service, webhook configurations and RBAC', async () => {
    const objects = await rendered('deploy');
    const c = manager(objects);
    const f = flags(c);
    for (const [flag, port] of [
      ['--webhook-bind-address', 9443],
      ['--health-probe-bind-address', 8081],
      ['--metrics-bind-address', 8443],
    ] as const) {
      assert.equal(f.get(flag), `:${port}`);
      assert.ok(
        c.ports?.some((p) => p.containerPort === port),
        `container port ${port}`,
      );
    }
    assert.equal(f.get('--webhook-service'), `${NS}/${NAME}`);
    find(objects, 'Service', NAME);
    assert.equal(f.get('--webhook-config-name'), NAME);
    find(objects, 'ValidatingWebhookConfiguration', NAME);
    find(objects, 'MutatingWebhookConfiguration', NAME);
    assert.equal(f.get('--default-target-secret'), DEFAULT_TARGET_SECRET);
    assert.deepEqual(f.get('--allowed-target-secrets')?.split(','), [DEFAULT_TARGET_SECRET]);
    assert.equal(f.get('--allow-cross-namespace-decrypt-secret'), 'false');
    // The Lease the server elects with is the one its Role lets it update.
    const leaseId = f.get('--leader-election-id');
    assert.ok(permissions(objects).includes(`${NS} coordination.k8s.io leases update ${leaseId}`));
    // The shared TLS Secret the server uses (flag, else "<webhook-config-name>-tls" in the
    // pod's namespace) is the one its Role lets it read and update.
    assert.equal(
      f.get('--webhook-cert-secret') ?? `${f.get('--webhook-config-name')}-tls`,
      TLS_SECRET,
    );
    for (const verb of ['get', 'update'])
      assert.ok(permissions(objects).includes(`${NS} core secrets ${verb} ${TLS_SECRET}`), verb);
  });

  test('a PodDisruptionBudget keeps at least one replica of the same pods', async () => {
    const objects = await rendered('deploy');
    const pdb = find(objects, 'PodDisruptionBudget', NAME);
    assert.equal(pdb.metadata.namespace, NS);
    const spec = pdb.spec as {
      minAvailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    assert.equal(spec.minAvailable, 1);
    assert.ok(spec.minAvailable < deployment(objects).replicas, 'a node can still be drained');
    assert.deepEqual(spec.selector.matchLabels, deployment(objects).selector.matchLabels);
  });
});

describe('RBAC of the service account', () => {
  test('is exactly the least-privilege set documented in deploy/README.md', async () => {
    const [target] = DEFAULT_TARGET_SECRET.split('/');
    const targetName = DEFAULT_TARGET_SECRET.split('/')[1];
    assert.deepEqual(
      permissions(await rendered('deploy')),
      [
        `${NS} coordination.k8s.io leases create *any*`,
        `${NS} coordination.k8s.io leases get topology-webhook.harikube.info`,
        `${NS} coordination.k8s.io leases update topology-webhook.harikube.info`,
        `${NS} core secrets create *any*`,
        `${NS} core secrets get ${TLS_SECRET}`,
        `${NS} core secrets update ${TLS_SECRET}`,
        '*cluster* admissionregistration.k8s.io mutatingwebhookconfigurations get topology-webhook',
        '*cluster* admissionregistration.k8s.io mutatingwebhookconfigurations patch topology-webhook',
        '*cluster* admissionregistration.k8s.io mutatingwebhookconfigurations update topology-webhook',
        '*cluster* admissionregistration.k8s.io validatingwebhookconfigurations get topology-webhook',
        '*cluster* admissionregistration.k8s.io validatingwebhookconfigurations patch topology-webhook',
        '*cluster* admissionregistration.k8s.io validatingwebhookconfigurations update topology-webhook',
        '*cluster* * * list *any*',
        '*cluster* authentication.k8s.io tokenreviews create *any*',
        '*cluster* authorization.k8s.io subjectaccessreviews create *any*',
        '*cluster* core events create *any*',
        '*cluster* core events patch *any*',
        '*cluster* core namespaces get *any*',
        '*cluster* core namespaces list *any*',
        '*cluster* core namespaces watch *any*',
        '*cluster* core secrets get *any*',
        '*cluster* core secrets list *any*',
        '*cluster* core secrets watch *any*',
        '*cluster* events.k8s.io events create *any*',
        '*cluster* events.k8s.io events patch *any*',
        '*cluster* harikube.info topologyconfigs get *any*',
        '*cluster* harikube.info topologyconfigs list *any*',
        '*cluster* harikube.info topologyconfigs patch *any*',
        '*cluster* harikube.info topologyconfigs update *any*',
        '*cluster* harikube.info topologyconfigs watch *any*',
        '*cluster* harikube.info topologyconfigs/finalizers update *any*',
        '*cluster* harikube.info topologyconfigs/status get *any*',
        '*cluster* harikube.info topologyconfigs/status patch *any*',
        '*cluster* harikube.info topologyconfigs/status update *any*',
        '*cluster* harikube.info topologyroutinggrants get *any*',
        '*cluster* harikube.info topologyroutinggrants list *any*',
        '*cluster* harikube.info topologyroutinggrants watch *any*',
        `${target} core secrets create *any*`,
        `${target} core secrets get ${targetName}`,
        `${target} core secrets patch ${targetName}`,
        `${target} core secrets update ${targetName}`,
        `${target} core secrets/finalizers update ${targetName}`,
      ].sort(),
    );
  });

  // The invariants behind that list, stated on their own so a future change
  // that edits the list still has to face them.
  const invariants: [string, (r: PolicyRule, namespace: string | undefined) => boolean][] = [
    [
      // One exception: the existing-data check lists (only lists) every kind a route may name.
      'no wildcard verb, resource or group, but list of everything for the existing-data check',
      (r) =>
        (r.verbs.length === 1 && r.verbs[0] === 'list') ||
        ![...r.verbs, ...(r.resources ?? []), ...(r.apiGroups ?? [])].includes('*'),
    ],
    [
      'no ConfigMaps (leader election uses Leases)',
      (r) => !(r.resources ?? []).includes('configmaps'),
    ],
    [
      'no escalate, bind or impersonate',
      (r) => !r.verbs.some((v) => ['escalate', 'bind', 'impersonate'].includes(v)),
    ],
    [
      'never deletes Secrets',
      (r) =>
        !((r.resources ?? []).includes('secrets') && r.verbs.some((v) => v.startsWith('delete'))),
    ],
    [
      'writes Secrets only in the target namespace and its own TLS Secret, update/patch by name only',
      (r, ns) => {
        if (!(r.resources ?? []).some((res) => res.startsWith('secrets'))) return true;
        if (r.verbs.every((v) => ['get', 'list', 'watch'].includes(v))) return true;
        const targetNamespace = DEFAULT_TARGET_SECRET.split('/')[0];
        // create cannot name the object: limited to the two namespaces.
        if (r.verbs.every((v) => v === 'create')) return ns === targetNamespace || ns === NS;
        const names = r.resourceNames ?? [];
        if (names.length === 0) return false;
        return ns === targetNamespace || (ns === NS && names.every((n) => n === TLS_SECRET));
      },
    ],
    [
      'touches webhook configurations only by name',
      (r) =>
        !(r.resources ?? []).some((res) => res.endsWith('webhookconfigurations')) ||
        (r.resourceNames ?? []).length > 0,
    ],
    [
      'cannot create or delete TopologyConfigs',
      (r) =>
        !(
          (r.resources ?? []).includes(PLURAL) &&
          r.verbs.some((v) => v === 'create' || v.startsWith('delete'))
        ),
    ],
  ];
  for (const [name, holds] of invariants) {
    test(name, async () => {
      const broken = rulesOf(await rendered('deploy'), SA).filter(
        ({ rule, namespace }) => !holds(rule, namespace),
      );
      assert.deepEqual(broken, []);
    });
  }

  test('metrics-reader grants only GET /metrics and is not bound to anyone', async () => {
    const objects = await rendered('deploy');
    const role = find(objects, 'ClusterRole', 'topology-webhook-metrics-reader');
    assert.deepEqual(role.rules, [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    const bound = objects.filter(
      (o) =>
        o.kind.endsWith('Binding') && (o.roleRef as { name: string }).name === role.metadata.name,
    );
    assert.deepEqual(bound, []);
  });
});

describe('user roles aggregated into admin/edit/view', () => {
  const cases = [
    { name: 'topologyconfig-viewer', to: ['admin', 'edit', 'view'], writes: false },
    { name: 'topologyconfig-editor', to: ['admin', 'edit'], writes: true },
    { name: 'topologyconfig-admin', to: ['admin'], writes: true },
  ];
  for (const c of cases) {
    test(`${c.name} aggregates to ${c.to.join('/')} and cannot write status`, async () => {
      const role = find(await rendered('deploy'), 'ClusterRole', c.name);
      const aggregates = Object.entries(role.metadata.labels ?? {})
        .filter(([k, v]) => k.startsWith('rbac.authorization.k8s.io/aggregate-to-') && v === 'true')
        .map(([k]) => k.slice('rbac.authorization.k8s.io/aggregate-to-'.length))
        .sort();
      assert.deepEqual(aggregates, c.to);
      const rules = role.rules as PolicyRule[];
      for (const rule of rules) {
        assert.deepEqual(rule.apiGroups, [GROUP]);
        assert.ok(!rule.verbs.includes('*'));
        if ((rule.resources ?? []).includes(`${PLURAL}/status`))
          assert.deepEqual(rule.verbs, ['get']);
      }
      const main = rules.find((r) => (r.resources ?? []).includes(PLURAL));
      assert.equal(main?.verbs.includes('create'), c.writes);
      assert.ok(main?.verbs.includes('watch'));
    });
  }
});

describe('overlay local (server running as a process on 127.0.0.1)', () => {
  test('has no workload objects, and brings the CRD so one apply -k installs everything', async () => {
    const objects = await rendered('deploy/overlays/local');
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget']) {
      assert.deepEqual(ofKind(objects, kind), [], kind);
    }
    assert.equal(ofKind(objects, 'CustomResourceDefinition').length, 2); // configs and grants
  });

  test('webhooks call https://127.0.0.1:9443 at the same paths; everything else equals deploy/', async () => {
    const [base, local] = await Promise.all([
      rendered('deploy'),
      rendered('deploy/overlays/local'),
    ]);
    for (const [kind, path] of [
      ['ValidatingWebhookConfiguration', VALIDATE_PATH],
      ['MutatingWebhookConfiguration', MUTATE_PATH],
    ] as const) {
      const w = webhooks(local, kind);
      assert.deepEqual(
        w.map((x) => x.clientConfig),
        [{ url: `https://127.0.0.1:9443${path}` }],
      );
      const strip = (list: Webhook[]) => list.map(({ clientConfig: _c, ...rest }) => rest);
      assert.deepEqual(strip(w), strip(webhooks(base, kind)));
    }
    for (const o of local.filter((x) => !x.kind.endsWith('WebhookConfiguration'))) {
      const same = base.find(
        (b) =>
          b.kind === o.kind &&
          b.metadata.name === o.metadata.name &&
          b.metadata.namespace === o.metadata.namespace,
      );
      assert.deepEqual(o, same, `${o.kind} ${o.metadata.name}`);
    }
    assert.deepEqual(permissions(local), permissions(base));
  });
});

describe('overlay cert-manager', () => {
  const CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';

  test('a private CA (self-signed root, CA Issuer) signs a Certificate for the Service DNS names', async () => {
    const objects = await rendered('deploy/overlays/cert-manager');
    interface CertSpec {
      dnsNames?: string[];
      isCA?: boolean;
      secretName: string;
      issuerRef: { kind: string; name: string };
    }
    const cert = find(objects, 'Certificate', 'topology-webhook-serving-cert');
    assert.equal(cert.metadata.namespace, NS);
    const spec = cert.spec as CertSpec;
    assert.deepEqual(spec.dnsNames, [`${NAME}.${NS}.svc`, `${NAME}.${NS}.svc.cluster.local`]);
    assert.notEqual(spec.isCA, true);
    // serving cert <- CA Issuer <- CA Certificate <- self-signed Issuer
    const caIssuer = find(objects, spec.issuerRef.kind, spec.issuerRef.name);
    const caSecret = (caIssuer.spec as { ca?: { secretName: string } }).ca?.secretName;
    const ca = ofKind(objects, 'Certificate').find(
      (c) => (c.spec as CertSpec).secretName === caSecret,
    );
    assert.ok(ca, `a Certificate writes the CA Secret ${caSecret}`);
    assert.equal((ca.spec as CertSpec).isCA, true);
    const root = find(
      objects,
      (ca.spec as CertSpec).issuerRef.kind,
      (ca.spec as CertSpec).issuerRef.name,
    );
    assert.deepEqual(root.spec, { selfSigned: {} });
    for (const o of [caIssuer, ca, root]) assert.equal(o.metadata.namespace, NS);
  });

  test('both webhook configurations get the CA injected from that Certificate', async () => {
    const objects = await rendered('deploy/overlays/cert-manager');
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const annotations = find(objects, kind, NAME).metadata.annotations ?? {};
      assert.equal(
        annotations['cert-manager.io/inject-ca-from'],
        `${NS}/topology-webhook-serving-cert`,
        kind,
      );
    }
  });

  test('the server reads the certificate Secret from --webhook-cert-path, mounted read-only', async () => {
    const objects = await rendered('deploy/overlays/cert-manager');
    const c = manager(objects);
    const names = (c.args ?? []).map((a) => parseFlag(a).name);
    assert.deepEqual(
      names.filter((n) => !(SERVER_FLAGS as readonly string[]).includes(n)),
      [],
    );
    assert.equal(flags(c).get('--webhook-cert-path'), CERT_DIR);
    const mount = c.volumeMounts?.find((m) => m.mountPath === CERT_DIR);
    assert.equal(mount?.readOnly, true);
    const volume = deployment(objects).template.spec.volumes?.find((v) => v.name === mount.name);
    const cert = find(objects, 'Certificate', 'topology-webhook-serving-cert').spec as {
      secretName: string;
    };
    assert.equal(volume?.secret?.secretName, cert.secretName);
  });

  test("drops the service account's access to webhook configurations and the shared TLS Secret (cert-manager injects the CA)", async () => {
    const [base, overlay] = await Promise.all([
      rendered('deploy'),
      rendered('deploy/overlays/cert-manager'),
    ]);
    const expected = permissions(base).filter(
      (p) => !p.includes('webhookconfigurations') && !p.startsWith(`${NS} core secrets `),
    );
    assert.deepEqual(permissions(overlay), expected);
    assert.ok(expected.length < permissions(base).length);
  });
});
