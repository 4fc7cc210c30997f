// Real-shaped AdmissionReview requests, as the API server sends them.
import type { TopologyConfig } from '../../../src/resource/types.ts';

export function topologyConfig(
  overrides: Partial<TopologyConfig['spec']> = {},
  name = 'orders',
): TopologyConfig {
  return {
    apiVersion: 'harikube.info/v1',
    kind: 'TopologyConfig',
    metadata: { name, namespace: 'team-a', generation: 1, uid: `uid-${name}` },
    spec: {
      position: 1,
      targetSecret: 'harikube/topology-config',
      backends: [
        {
          name: `${name}-db`,
          endpoint: `mysql://app:secret-password@tcp(${name}.db:3306)/kine`,
          customresource: { group: 'stable.example.com', kind: name },
        },
      ],
      ...overrides,
    },
  };
}

export function review(
  operation: 'CREATE' | 'UPDATE' | 'DELETE',
  object: unknown,
  oldObject?: unknown,
  extra: Record<string, unknown> = {},
) {
  const meta = ((object ?? oldObject) as TopologyConfig | undefined)?.metadata;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'harikube.info', version: 'v1', kind: 'TopologyConfig' },
      resource: { group: 'harikube.info', version: 'v1', resource: 'topologyconfigs' },
      requestKind: { group: 'harikube.info', version: 'v1', kind: 'TopologyConfig' },
      requestResource: { group: 'harikube.info', version: 'v1', resource: 'topologyconfigs' },
      name: meta?.name,
      namespace: meta?.namespace,
      operation,
      userInfo: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
      object: operation === 'DELETE' ? null : object,
      oldObject: oldObject ?? null,
      dryRun: false,
      options: {
        apiVersion: 'meta.k8s.io/v1',
        kind: operation === 'CREATE' ? 'CreateOptions' : 'UpdateOptions',
      },
      ...extra,
    },
  };
}
