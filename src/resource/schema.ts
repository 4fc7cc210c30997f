// The one definition of the TopologyConfig API. The CRD in deploy/, the Ajv
// validator and the TypeScript types are all derived from this module, so
// they cannot drift (test/unit/resource/crd.test.ts fails if deploy/ does).
// Field names, types, minimums, defaults and required lists are the seed
// operator's (kubebuilder v0.18.0 output); descriptions are tidied.

export const GROUP = 'harikube.info';
export const VERSION = 'v1';
export const KIND = 'TopologyConfig';
export const PLURAL = 'topologyconfigs';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CRD_NAME = `${PLURAL}.${GROUP}`;
export const DEFAULT_TARGET_SECRET = 'harikube/topology-config';

// The seed's CRD says `allOf: [{format: int64}, {format: duration}]` here
// (controller-gen's output for a time.Duration). A real kube-apiserver
// (checked on v1.34) then rejects EVERY integer ("must be of type duration"),
// because `duration` is a string format; so the field could never be set.
// HariKube's own docs and tests write Go duration strings (`5m`), so the field
// is int-or-string: nanoseconds as the seed has them, or Go's
// time.ParseDuration grammar without a sign (a negative lifetime means
// nothing to database/sql). The Secret always gets Go's canonical string.
/** Go's time.ParseDuration grammar, non-negative: `0`, or one or more `<number><unit>`. */
export const GO_DURATION_PATTERN =
  '^(\\+?0|\\+?(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$';
const goDuration = {
  description:
    "A Go time.Duration: an int64 nanosecond count (300000000000) or a Go duration string (5m, 1h30m, 300ms); the merged Secret gets Go's canonical string (5m0s).",
  'x-kubernetes-int-or-string': true,
  // A structural schema allows int-or-string only as this exact anyOf; the
  // pattern beside it applies to strings alone (JSON Schema's rule).
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  pattern: GO_DURATION_PATTERN,
} as const;

const backend = {
  type: 'object',
  required: ['endpoint', 'name'],
  properties: {
    backendTLS: {
      description: 'BackendTLS defines TLS configuration for connection.',
      type: 'object',
      properties: {
        caFile: { description: 'CAFile is the CA file for the secure connection.', type: 'string' },
        certFile: {
          description: 'CertFile is the certificate file for the secure connection.',
          type: 'string',
        },
        keyFile: {
          description: 'KeyFile is the key file for the secure connection.',
          type: 'string',
        },
        skipVerify: { description: 'SkipVerify skips TLS verification.', type: 'boolean' },
      },
    },
    connectionPool: {
      description: 'ConnectionPool defines connection pool configuration for connection.',
      type: 'object',
      properties: {
        maxIdle: { minimum: 0, type: 'integer' },
        maxIdleLifeTime: goDuration,
        maxLifeTime: goDuration,
        maxOpen: { minimum: 0, type: 'integer' },
      },
    },
    customresource: {
      description: 'CustomResource defines custom resource based routing.',
      type: 'object',
      properties: {
        group: { description: 'Group is the API group to match.', type: 'string' },
        kind: { description: 'Kind is the API kind to match.', type: 'string' },
      },
    },
    endpoint: { description: 'Endpoint is database specific connection string.', type: 'string' },
    name: { description: 'Name is the global unique name of the config.', type: 'string' },
    namespace: {
      description: 'Namespace defines namespace routing.',
      type: 'object',
      properties: {
        kinds: {
          description: 'Kinds is list of kind to match.',
          type: 'array',
          items: { type: 'string' },
        },
        namespace: { description: 'Namespace is the name of namespace to match.', type: 'string' },
      },
    },
    prefix: {
      description: 'Prefix defines prefix based routing.',
      type: 'object',
      properties: {
        prefix: { description: 'Prefix is the ETCD key prefix to match.', type: 'string' },
      },
    },
    regexp: {
      description: 'RegExp defines regexp based routing.',
      type: 'object',
      properties: {
        key: {
          description: 'Key is the regexp to match if individual operation needs different match.',
          type: 'string',
        },
        prefix: { description: 'Prefix is the regexp to match.', type: 'string' },
      },
    },
  },
} as const;

export const specSchema = {
  description: 'TopologyConfigSpec defines the desired state of TopologyConfig.',
  type: 'object',
  required: ['backends', 'position', 'targetSecret'],
  properties: {
    backends: {
      description: 'Backends represents the group of topology configs.',
      type: 'array',
      minItems: 1,
      items: backend,
    },
    endpointDecryptSecret: {
      description:
        'EndpointDecryptSecret specifies the secret containing the decryption key for sensitive BackendConfig data.\n' +
        'AES-GCM encryption is supported, and multiple keys can be defined for key rotation or compatibility.\n' +
        'The encrypted endpoint has to be encoded with Base64.',
      type: 'string',
    },
    position: {
      description: 'Position represents the position of the config in the merged config.',
      minimum: 1,
      type: 'integer',
    },
    targetSecret: {
      default: DEFAULT_TARGET_SECRET,
      description: 'TargetSecret defines the namespaced name of the generated topology config.',
      type: 'string',
    },
  },
} as const;

// metav1.Condition, field for field (types, formats, limits, required list).
const condition = {
  description:
    'Condition contains details for one aspect of the current state of this API Resource.',
  type: 'object',
  required: ['lastTransitionTime', 'message', 'reason', 'status', 'type'],
  properties: {
    lastTransitionTime: {
      description:
        'LastTransitionTime is the last time the condition changed from one status to another.',
      format: 'date-time',
      type: 'string',
    },
    message: {
      description: 'Message is a human readable message indicating details about the transition.',
      maxLength: 32768,
      type: 'string',
    },
    observedGeneration: {
      description: 'ObservedGeneration is the metadata.generation the condition was set for.',
      format: 'int64',
      minimum: 0,
      type: 'integer',
    },
    reason: {
      description: "Reason is a CamelCase reason for the condition's last transition.",
      maxLength: 1024,
      minLength: 1,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      type: 'string',
    },
    status: {
      description: 'Status of the condition, one of True, False, Unknown.',
      enum: ['True', 'False', 'Unknown'],
      type: 'string',
    },
    type: {
      description: 'Type of the condition in CamelCase or in foo.example.com/CamelCase.',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      type: 'string',
    },
  },
} as const;

export const statusSchema = {
  description: 'TopologyConfigStatus defines the observed state of TopologyConfig.',
  type: 'object',
  properties: {
    deployStatus: {
      default: 'Pending',
      description: 'DeployStatus defines the in cluster state of config.',
      type: 'string',
    },
    deployStatusReason: {
      description: 'DeployStatusReason stores the reason of DeployStatus.',
      type: 'string',
    },
    // Added beside the seed's fields (the CRD may add, never drop): which
    // generation the status describes, so `Active` is never read as stale.
    // Also added: true while the target Secret keeps this config's last good
    // entry although the config is in Error (its endpoint no longer
    // decrypts); its routes are live, so it is protected like an Active one.
    keptInSecret: {
      description:
        'KeptInSecret is true while the target Secret keeps the last entry written for this generation although the config is in Error.',
      type: 'boolean',
    },
    observedGeneration: {
      description: 'ObservedGeneration is the metadata.generation the status was computed for.',
      format: 'int64',
      type: 'integer',
    },
    // The older HariKube operator reported its order here; its published tests read it.
    deployOrder: {
      description: 'DeployOrder is the position this config was last merged at (spec.position).',
      format: 'int64',
      type: 'integer',
    },
    // Added for tools (kstatus, kubectl wait, Flux, Argo CD): metav1.Condition,
    // as controller-gen emits it, keyed by type. See src/reconcile/conditions.ts.
    conditions: {
      description:
        'Conditions in the kstatus conventions: Ready (True when Active for the current generation), Reconciling (True while not yet merged) and Stalled (True in Error).',
      type: 'array',
      items: condition,
      'x-kubernetes-list-map-keys': ['type'],
      'x-kubernetes-list-type': 'map',
    },
  },
} as const;

export const topologyConfigSchema = {
  description: 'TopologyConfig is the Schema for the topologyconfigs API.',
  type: 'object',
  properties: {
    apiVersion: {
      description:
        'APIVersion defines the versioned schema of this representation of an object.\n' +
        'Servers should convert recognized schemas to the latest internal value, and\n' +
        'may reject unrecognized values.\n' +
        'More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
      type: 'string',
    },
    kind: {
      description:
        'Kind is a string value representing the REST resource this object represents.\n' +
        'Servers may infer this from the endpoint the client submits requests to.\n' +
        'Cannot be updated.\n' +
        'In CamelCase.\n' +
        'More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
      type: 'string',
    },
    metadata: { type: 'object' },
    spec: specSchema,
    status: statusSchema,
  },
} as const;

/** The printer columns `kubectl get topologyconfigs` shows. */
export const printerColumns = [
  { jsonPath: '.status.deployStatus', name: 'DeployStatus', type: 'string' },
  { jsonPath: '.spec.position', name: 'Position', type: 'integer' },
  { jsonPath: '.spec.targetSecret', name: 'Target', type: 'string' },
  { jsonPath: '.metadata.creationTimestamp', name: 'Age', type: 'date' },
] as const;

export const SHORT_NAMES = ['tc', 'topoconfig'];
export const CATEGORIES = ['harikube'];

/** The CustomResourceDefinition object, as it is written to deploy/crd/. */
export function customResourceDefinition() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: 'topologyconfig',
        // `kubectl get tc`, and `kubectl get harikube` lists every HariKube resource.
        shortNames: SHORT_NAMES,
        categories: CATEGORIES,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: printerColumns,
          schema: { openAPIV3Schema: withImmutableTarget(topologyConfigSchema) },
          subresources: { status: {} },
        },
      ],
    },
  };
}

// The API server itself keeps targetSecret immutable, so a move between
// Secrets cannot happen even when the webhook is bypassed (see README).
function withImmutableTarget(schema: typeof topologyConfigSchema) {
  return {
    ...schema,
    properties: {
      ...schema.properties,
      spec: {
        ...schema.properties.spec,
        'x-kubernetes-validations': [
          {
            rule: 'self.targetSecret == oldSelf.targetSecret',
            message:
              'targetSecret is immutable: delete the TopologyConfig and create it again to move it',
            fieldPath: '.targetSecret',
          },
        ],
      },
    },
  };
}
