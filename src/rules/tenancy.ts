// Who may route what. A route decides where other people's data is stored,
// and a route to a database its author can write lets that author create
// objects that never passed admission; so, as with Pod Security Admission,
// the platform team grants per namespace and a tenant namespace without a
// grant routes nothing. Platform namespaces route anything (but the keys
// nobody routes). Pure: the grants in force come in as data (the server from
// its informer, the offline command from its files).
import type { RoutingGrant, RoutingGrantSpec } from '../resource/grant.ts';
import { GRANT_KIND, GRANT_PLURAL, OWN_NAMESPACE } from '../resource/grant.ts';
import { isRecord } from '../resource/json.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { PositionBand } from './view.ts';
import type { FieldError } from './field-errors.ts';
import { forbidden } from './field-errors.ts';
import {
  builtinResource,
  contains,
  keySetOfSelector,
  normalizePrefix,
  prefixKeys,
  union,
  type KeySet,
} from './key-space.ts';

/** A refusal by this policy, marked so (see FieldError.policy). */
const refuse = (field: string, detail: string): FieldError => ({
  ...forbidden(field, detail),
  policy: true,
});

/** The grants in force, bound to live namespaces (see bindGrants). */
export interface Tenancy {
  /** Namespaces whose configs may route anything; `*`: every namespace (no tenants). */
  platformNamespaces: readonly string[];
  /** Grants per tenant namespace; several add up. */
  grants: ReadonlyMap<string, readonly GrantInForce[]>;
  /** The default grants: for a tenant namespace with none of its own. */
  defaults: readonly GrantInForce[];
}

export interface GrantInForce {
  name: string;
  spec: RoutingGrantSpec;
}

/**
 * Built-in kinds whose objects, written straight into a database, give their
 * author power over the cluster (a privileged Pod, a token, a RoleBinding, a
 * webhook that sees every request): routed only when a grant names them.
 */
export const SECURITY_SENSITIVE_KINDS: readonly string[] = [
  'pods',
  'secrets',
  'serviceaccounts',
  'roles',
  'rolebindings',
  'clusterroles',
  'clusterrolebindings',
  'services',
  'endpoints',
  'endpointslices',
  'persistentvolumes',
  'nodes',
  'minions',
  'certificatesigningrequests',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'validatingadmissionpolicies',
  'validatingadmissionpolicybindings',
  'mutatingadmissionpolicies',
  'mutatingadmissionpolicybindings',
  'priorityclasses',
  'runtimeclasses',
  'csidrivers',
  'storageclasses',
  'apiservices',
  'customresourcedefinitions',
];
const SENSITIVE = new Set(SECURITY_SENSITIVE_KINDS);

/** Schemes whose endpoint is a file on the middleware's host. */
const FILE_SCHEMES = new Set(['sqlite', 'sqlite3', 'unix', 'file']);

export const isPlatformNamespace = (tenancy: Tenancy, namespace: string): boolean =>
  tenancy.platformNamespaces.includes('*') || tenancy.platformNamespaces.includes(namespace);

/**
 * The grants in force from the grant objects: a namespace's grant applies
 * only while the namespace with that name has the uid the grant names (a
 * namespace deleted and created again gets a new uid, and no grant).
 * `namespaceUids` undefined: uids unknown (offline), grants bind by name.
 */
export function bindGrants(
  objects: readonly RoutingGrant[],
  platformNamespaces: readonly string[],
  namespaceUids?: ReadonlyMap<string, string>,
): Tenancy {
  const grants = new Map<string, GrantInForce[]>();
  const defaults: GrantInForce[] = [];
  for (const object of [...objects].sort(byName)) {
    const spec = object.spec;
    if (!isRecord(spec)) continue;
    const inForce = { name: object.metadata?.name ?? '', spec };
    if (spec.default === true) {
      defaults.push(inForce);
      continue;
    }
    const namespace = spec.namespace;
    if (typeof namespace !== 'string' || namespace === '') continue;
    if (namespaceUids && namespaceUids.get(namespace) !== spec.namespaceUID) continue;
    grants.set(namespace, [...(grants.get(namespace) ?? []), inForce]);
  }
  return { platformNamespaces, grants, defaults };
}

const byName = (a: RoutingGrant, b: RoutingGrant) =>
  (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1;

/** The grants a config in `namespace` is judged by; undefined for a platform namespace. */
function grantsFor(tenancy: Tenancy, namespace: string): readonly GrantInForce[] | undefined {
  if (isPlatformNamespace(tenancy, namespace)) return undefined;
  return tenancy.grants.get(namespace) ?? tenancy.defaults;
}

const own = (pattern: string, namespace: string) => pattern.replaceAll(OWN_NAMESPACE, namespace);

/** `*.suffix` matches any name ending in `.suffix`; anything else matches itself. */
function globMatches(pattern: string, value: string): boolean {
  if (pattern.startsWith('*.'))
    return value.endsWith(pattern.slice(1)) && value.length > pattern.length - 1;
  return pattern === value;
}

interface Judge {
  namespace: string;
  grants: readonly GrantInForce[];
  platform: string;
}

/** The end of every refusal: which grant is missing and where the platform team sets it. */
function whereToGrant(judge: Judge, field: string): string {
  const names = judge.grants.map((g) => JSON.stringify(g.name)).join(', ');
  const inForce =
    judge.grants.length === 0
      ? `namespace ${judge.namespace} has no ${GRANT_KIND} (and there is no default grant)`
      : `the ${GRANT_KIND} in force for namespace ${judge.namespace} (${names}) does not allow it in spec.${field}`;
  return `${inForce}; the platform team grants it in a cluster-scoped ${GRANT_KIND} (kubectl get ${GRANT_PLURAL}) for namespace ${judge.namespace}, or the config moves to a platform namespace (--platform-namespaces: ${judge.platform})`;
}

const some = (judge: Judge, test: (spec: RoutingGrantSpec) => boolean) =>
  judge.grants.some((g) => test(g.spec));
const listed = (values: readonly string[] | undefined, judge: Judge) =>
  (values ?? []).map((v) => own(v, judge.namespace));

function judgeCustomResource(
  selector: Record<string, unknown>,
  path: string,
  judge: Judge,
): FieldError[] {
  const group = typeof selector.group === 'string' ? selector.group : '';
  const kind = typeof selector.kind === 'string' ? selector.kind : '';
  if (group === '') return [];
  const allowed = some(judge, (spec) =>
    listed(spec.groups, judge).some((entry) => {
      const slash = entry.indexOf('/');
      if (slash < 0) return globMatches(entry, group);
      return (
        kind !== '' && globMatches(entry.slice(0, slash), group) && entry.slice(slash + 1) === kind
      );
    }),
  );
  if (allowed) return [];
  const what =
    kind === ''
      ? `the whole API group ${JSON.stringify(group)}`
      : `${JSON.stringify(kind)} of API group ${JSON.stringify(group)}`;
  return [
    refuse(
      `${path}.customresource.group`,
      `routes ${what}, which is not granted: ${whereToGrant(judge, 'groups')}`,
    ),
  ];
}

function judgeNamespace(
  selector: Record<string, unknown>,
  path: string,
  judge: Judge,
): FieldError[] {
  const errors: FieldError[] = [];
  const namespace = typeof selector.namespace === 'string' ? selector.namespace : '';
  if (
    namespace !== '' &&
    !some(judge, (spec) => listed(spec.namespaces, judge).includes(namespace))
  ) {
    errors.push(
      refuse(
        `${path}.namespace.namespace`,
        `routes namespace ${JSON.stringify(namespace)}, which is not granted: ${whereToGrant(judge, 'namespaces')}`,
      ),
    );
  }
  const kinds = Array.isArray(selector.kinds)
    ? selector.kinds.filter((k): k is string => typeof k === 'string')
    : [];
  if (kinds.length === 0) {
    // Every kind of the namespace, the security-sensitive ones included.
    const missing = SECURITY_SENSITIVE_KINDS.filter(
      (k) => !some(judge, (spec) => listed(spec.kinds, judge).includes(k)),
    );
    const anyKind = some(judge, (spec) => listed(spec.kinds, judge).includes('*'));
    if (missing.length > 0 || !anyKind) {
      errors.push(
        refuse(
          `${path}.namespace.kinds`,
          `is empty, so it routes every kind of the namespace${missing.length > 0 ? `, security-sensitive ones included (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}), which are routed only when granted by name` : ''}: list the kinds to route, or ${whereToGrant(judge, 'kinds')}`,
        ),
      );
    }
    return errors;
  }
  kinds.forEach((written, i) => {
    // A Kind (`Secret`) is the resource it names (`secrets`).
    const kind = builtinResource(written)?.resource ?? written;
    const names = (spec: RoutingGrantSpec) => listed(spec.kinds, judge);
    const granted = SENSITIVE.has(kind)
      ? some(judge, (spec) => names(spec).includes(kind))
      : some(judge, (spec) => names(spec).includes(kind) || names(spec).includes('*'));
    if (granted) return;
    const why = SENSITIVE.has(kind)
      ? 'is security-sensitive and routed only when granted by name'
      : 'is not granted';
    errors.push(
      refuse(
        `${path}.namespace.kinds[${i}]`,
        `${JSON.stringify(written)} ${why}: ${whereToGrant(judge, 'kinds')}`,
      ),
    );
  });
  return errors;
}

/** The keys the grants' prefixes cover (in either form), per grant. */
const grantedKeys = (spec: RoutingGrantSpec, judge: Judge): KeySet =>
  union(...listed(spec.prefixes, judge).map(prefixKeys));

/** Whether the key space model proves every key of `route` inside one grant's prefixes. */
const withinGrantedPrefixes = (route: KeySet, judge: Judge): boolean =>
  some(judge, (spec) => contains(grantedKeys(spec, judge), route).verdict === 'yes');

function judgePrefix(selector: Record<string, unknown>, path: string, judge: Judge): FieldError[] {
  if (typeof selector.prefix !== 'string' || selector.prefix === '') return [];
  const route = keySetOfSelector('prefix', selector);
  if (withinGrantedPrefixes(route, judge)) return [];
  return [
    refuse(
      `${path}.prefix.prefix`,
      `routes the keys under ${JSON.stringify(normalizePrefix(selector.prefix))}, which lie within no granted prefix: ${whereToGrant(judge, 'prefixes')}`,
    ),
  ];
}

function judgeRegexp(selector: Record<string, unknown>, path: string, judge: Judge): FieldError[] {
  const prefix = typeof selector.prefix === 'string' ? selector.prefix : '';
  const key = typeof selector.key === 'string' ? selector.key : '';
  // Inside a granted prefix when the model can prove it (a literal start);
  // otherwise only as written in a grant.
  if (withinGrantedPrefixes(keySetOfSelector('regexp', selector), judge)) return [];
  const granted = some(judge, (spec) =>
    (spec.regexps ?? []).some(
      (r) =>
        own(r.prefix ?? '', judge.namespace) === prefix &&
        own(r.key ?? '', judge.namespace) === key,
    ),
  );
  if (granted) return [];
  return [
    refuse(
      `${path}.regexp`,
      `its keys cannot be shown to lie within a granted prefix, so a regular expression is routed only when granted exactly as written: ${whereToGrant(judge, 'regexps')}`,
    ),
  ];
}

const TLS_FILES = ['caFile', 'certFile', 'keyFile'] as const;

function judgeBackend(backend: unknown, path: string, judge: Judge): FieldError[] {
  if (!isRecord(backend)) return [];
  const errors: FieldError[] = [];
  if (isRecord(backend.customresource))
    errors.push(...judgeCustomResource(backend.customresource, path, judge));
  if (isRecord(backend.namespace)) errors.push(...judgeNamespace(backend.namespace, path, judge));
  if (isRecord(backend.prefix)) errors.push(...judgePrefix(backend.prefix, path, judge));
  if (isRecord(backend.regexp)) errors.push(...judgeRegexp(backend.regexp, path, judge));
  const tls = isRecord(backend.backendTLS) ? backend.backendTLS : {};
  for (const file of TLS_FILES) {
    if (typeof tls[file] === 'string' && tls[file] !== '') {
      errors.push(
        refuse(
          `${path}.backendTLS.${file}`,
          `names a file on the middleware's host, which only configs in platform namespaces (--platform-namespaces: ${judge.platform}) may do`,
        ),
      );
    }
  }
  return errors;
}

function judgePosition(position: unknown, judge: Judge): FieldError[] {
  if (typeof position !== 'number') return [];
  const bands = judge.grants.map((g) => g.spec.positions);
  if (bands.some((b) => b && position >= b.min && position <= b.max)) return [];
  const shown = bands.map((b) => `${b.min}–${b.max}`).join(', ') || 'none';
  return [
    refuse(
      'spec.position',
      `${position} is outside the band of positions granted to namespace ${judge.namespace} (${shown}): ${whereToGrant(judge, 'positions')}`,
    ),
  ];
}

function judgeOf(config: TopologyConfig, tenancy: Tenancy | undefined): Judge | undefined {
  const namespace = config.metadata?.namespace;
  if (!tenancy || typeof namespace !== 'string') return undefined;
  const grants = grantsFor(tenancy, namespace);
  if (!grants) return undefined;
  return { namespace, grants, platform: tenancy.platformNamespaces.join(', ') || '(none)' };
}

/**
 * What a config in a tenant namespace routes, and where, against the grants
 * in force: its selectors, backendTLS files, position. Endpoints are judged
 * once decrypted (validateTenantEndpoints). No tenancy: nothing to judge.
 */
export function validateTenancy(
  config: TopologyConfig,
  tenancy: Tenancy | undefined,
): FieldError[] {
  const judge = judgeOf(config, tenancy);
  if (!judge) return [];
  if (judge.grants.length === 0) {
    return [
      refuse(
        'metadata.namespace',
        `${judge.namespace} is a tenant namespace that may route nothing: ${whereToGrant(judge, 'groups')}`,
      ),
    ];
  }
  const backends = Array.isArray(config.spec?.backends) ? config.spec.backends : [];
  return [
    ...backends.flatMap((b, i) => judgeBackend(b, `spec.backends[${i}]`, judge)),
    ...judgePosition(config.spec?.position, judge),
  ];
}

export interface EndpointTarget {
  scheme: string;
  /** Hosts (lower case, no port); empty when the endpoint names a file. */
  hosts: string[];
  /** A file on the middleware's host (sqlite://, unix://, mysql's unix(…)). */
  file: boolean;
}

/**
 * Where a kine-style endpoint points: `mysql://u:p@tcp(host:port)/db`,
 * `postgres://u:p@host:port/db`, `https://h1:2379,https://h2:2379`, … .
 * Undefined when it cannot be read (then no host can be allowed).
 */
export function endpointTarget(endpoint: string): EndpointTarget | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(endpoint.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (FILE_SCHEMES.has(scheme)) return { scheme, hosts: [], file: true };
  const hosts: string[] = [];
  let file = false;
  // etcd takes a comma-separated list of URLs; each must be allowed.
  for (const part of m[2]!.split(',')) {
    const rest = part.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
    // Go's MySQL DSN: user:password@tcp(host:port)/db or …@unix(/path)/db.
    const wrapped = /^(?:.*?@)?(tcp|unix)\(([^)]*)\)/i.exec(rest);
    if (wrapped?.[1]!.toLowerCase() === 'unix') {
      file = true;
      continue;
    }
    let hostPort = wrapped?.[2];
    if (hostPort === undefined) {
      const authority = rest.split(/[/?#]/)[0]!;
      hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    }
    const host = hostPort.startsWith('[')
      ? hostPort.slice(1, hostPort.indexOf(']'))
      : hostPort.split(':')[0]!;
    if (host === '') return undefined;
    hosts.push(host.toLowerCase());
  }
  return { scheme, hosts, file };
}

/** `secret://<namespace>/<name>/<key>`: HariKube reads the endpoint from that Secret. */
export function secretReference(
  endpoint: string,
): { namespace: string; name: string; key: string } | undefined {
  const m = /^secret:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(endpoint.trim());
  return m ? { namespace: m[1]!, name: m[2]!, key: m[3]! } : undefined;
}

/**
 * Where a tenant's routes store their data: only at the hosts and schemes a
 * grant allows (so a tenant cannot point a route at a database it writes from
 * outside), never at a file of the middleware's host. `endpoints[i]` is
 * backend i's effective (decrypted) endpoint. Reasons never show an endpoint.
 */
export function validateTenantEndpoints(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
  tenancy: Tenancy | undefined,
): FieldError[] {
  const judge = judgeOf(config, tenancy);
  if (!judge || judge.grants.length === 0) return [];
  const errors: FieldError[] = [];
  endpoints.forEach((endpoint, i) => {
    if (endpoint === undefined) return;
    const path = `spec.backends[${i}].endpoint`;
    if (secretReference(endpoint)) {
      if (!some(judge, (spec) => (spec.endpoints?.schemes ?? []).includes('secret'))) {
        errors.push(
          refuse(
            path,
            `is a secret:// reference, whose database cannot be checked against the grant: ${whereToGrant(judge, 'endpoints.schemes ("secret")')}`,
          ),
        );
      }
      return;
    }
    const target = endpointTarget(endpoint);
    if (target?.file) {
      errors.push(
        refuse(
          path,
          `names a file on the middleware's host (${target.scheme}), which only configs in platform namespaces (--platform-namespaces: ${judge.platform}) may do`,
        ),
      );
      return;
    }
    const allowed =
      target !== undefined &&
      some(judge, (spec) => {
        const schemes = listed(spec.endpoints?.schemes, judge);
        const hosts = listed(spec.endpoints?.hosts, judge);
        return (
          (schemes.length === 0 || schemes.includes(target.scheme)) &&
          target.hosts.every((h) => hosts.some((p) => globMatches(p.toLowerCase(), h)))
        );
      });
    if (!allowed) {
      errors.push(
        refuse(
          path,
          `points at a ${target ? `${target.scheme} database on a host` : 'database'} that is not granted (a tenant's routes store data only where the platform allows): ${whereToGrant(judge, 'endpoints')}`,
        ),
      );
    }
  });
  return errors;
}

/**
 * The bands of positions a config in `namespace` must keep to; undefined for
 * a platform namespace or without tenancy (the mutating webhook then
 * defaults an omitted position to the bottom of the target).
 */
export function positionBands(
  namespace: string | undefined,
  tenancy: Tenancy | undefined,
): PositionBand[] | undefined {
  if (!tenancy || typeof namespace !== 'string') return undefined;
  const grants = grantsFor(tenancy, namespace);
  return grants?.flatMap((g) => (g.spec.positions ? [g.spec.positions] : []));
}
