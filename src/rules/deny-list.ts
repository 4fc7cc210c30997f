// Keys nobody may route, whoever asks: they must stay in the main database,
// where the product, the API server and HariKube itself expect them. Checked
// by the webhook (validateStatic, plus the key Secrets of other configs) and
// by the reconciler's merge (the same validateStatic, plus the key Secrets of
// every config it merges), so a config that got in with the webhook bypassed
// goes to Error instead of into the Secret.
import { parseNamespacedName } from '../resource/names.ts';
import type { ConfigFacts } from './facts.ts';
import type { FieldError } from './field-errors.ts';
import { forbidden } from './field-errors.ts';
import type { KeySet } from './key-space.ts';
import { exactKey, intersects, keySetOfSelector, prefixKeys, union } from './key-space.ts';
import type { Policy } from './policy.ts';
import { SortedStrings } from './sorted-strings.ts';

/** Namespaces of the product itself (its TLS Secret, its Lease) when the policy names none. */
export const DEFAULT_PRODUCT_NAMESPACES: readonly string[] = Object.freeze(['harikube-system']);

export interface Denied {
  keys: KeySet;
  /** What they are, for the reason. */
  what: string;
}

const secretKey = (namespace: string, name: string) => `/registry/secrets/${namespace}/${name}`;

const PRODUCT_KINDS = ['secrets', 'leases', 'roles', 'rolebindings'];

const FIXED: readonly Denied[] = Object.freeze([
  { keys: prefixKeys('/registry/harikube.info/topologyconfigs/'), what: 'TopologyConfigs' },
  { keys: prefixKeys('/registry/namespaces/'), what: 'Namespaces' },
  {
    keys: union(
      prefixKeys('/registry/clusterroles/'),
      prefixKeys('/registry/clusterrolebindings/'),
    ),
    what: 'ClusterRoles and ClusterRoleBindings (RBAC)',
  },
  {
    keys: prefixKeys('/registry/apiextensions.k8s.io/customresourcedefinitions/'),
    what: 'CustomResourceDefinitions',
  },
  {
    keys: union(
      prefixKeys('/registry/validatingwebhookconfigurations/'),
      prefixKeys('/registry/mutatingwebhookconfigurations/'),
      prefixKeys('/registry/validatingadmissionpolicies/'),
      prefixKeys('/registry/validatingadmissionpolicybindings/'),
    ),
    what: 'admission webhook configurations and policies (this product is one)',
  },
]);

/** The deny list of a policy: the fixed entries, the target Secrets, the product's namespaces. */
export function denyList(policy: Policy): Denied[] {
  const out: Denied[] = [...FIXED];
  for (const pattern of new Set([policy.defaultTargetSecret, ...policy.allowedTargetSecrets])) {
    const ref = parseNamespacedName(pattern);
    if (!ref) continue;
    out.push(
      ref.name === '*'
        ? {
            keys: prefixKeys(`/registry/secrets/${ref.namespace}/`),
            what: `the target Secrets ${pattern}`,
          }
        : {
            keys: exactKey(secretKey(ref.namespace, ref.name)),
            what: `the target Secret ${pattern}`,
          },
    );
  }
  for (const namespace of policy.productNamespaces ?? DEFAULT_PRODUCT_NAMESPACES) {
    // What the product itself runs on: its TLS Secret, its Lease, its Roles and RoleBindings.
    out.push({
      keys: keySetOfSelector('namespace', { namespace, kinds: PRODUCT_KINDS }),
      what: `the Secrets, Leases and RBAC of the product's namespace ${namespace}`,
    });
  }
  return out;
}

const denyLists = new WeakMap<Policy, Denied[]>();
function denyListOnce(policy: Policy): Denied[] {
  let list = denyLists.get(policy);
  if (!list) denyLists.set(policy, (list = denyList(policy)));
  return list;
}

export interface DenyVerdict {
  errors: FieldError[];
  warnings: string[];
}

const REASON =
  'which must stay in the main database, whoever asks: no TopologyConfig may route them';
/** How many denied things one reason names. */
const NAMED = 3;

/** One error per selector naming what it routes of `denied`, one warning for what it may route. */
function judge(field: string, keys: KeySet, denied: Iterable<Denied>, out: DenyVerdict): void {
  const taken: string[] = [];
  const maybe: string[] = [];
  for (const d of denied) {
    const shared = intersects(keys, d.keys);
    if (shared.verdict === 'yes') taken.push(`${d.what} (e.g. ${shared.shown})`);
    else if (shared.verdict === 'unknown') maybe.push(d.what);
  }
  const list = (items: string[]) =>
    items.slice(0, NAMED).join(', ') +
    (items.length > NAMED ? ` and ${items.length - NAMED} more` : '');
  if (taken.length > 0) out.errors.push(forbidden(field, `routes ${list(taken)}, ${REASON}`));
  if (maybe.length > 0)
    out.warnings.push(
      `${field} may route ${list(maybe)}, ${REASON}: a regular expression this check cannot decide (anchor it as ^/registry/…)`,
    );
}

/** The selectors of `facts` that route keys of the policy's deny list (errors), or may (warnings, for regexps). */
export function deniedRoutes(facts: ConfigFacts, policy: Policy): DenyVerdict {
  const out: DenyVerdict = { errors: [], warnings: [] };
  const list = denyListOnce(policy);
  for (const b of facts.backends) {
    for (const s of b.selectors) {
      judge(`spec.backends[${b.index}].${s.field}`, s.keys, list, out);
    }
  }
  return out;
}

/** The selectors of `facts` that route a key Secret of `points` (each Secret judged once). */
export function deniedKeySecrets(
  facts: ConfigFacts,
  points: readonly KeySecretPoints[],
  except?: string,
): DenyVerdict {
  const out: DenyVerdict = { errors: [], warnings: [] };
  for (const b of facts.backends) {
    for (const s of b.selectors) {
      const seen = new Map<string, Denied>();
      for (const p of points) for (const d of p.under(s.keys, except)) seen.set(d.what, d);
      if (seen.size > 0) judge(`spec.backends[${b.index}].${s.field}`, s.keys, seen.values(), out);
    }
  }
  return out;
}

/**
 * Key Secrets (`namespace/name`) as single keys, sorted, so that the ones a
 * route may take are found by a range query, not by trying each.
 */
export class KeySecretPoints {
  static readonly EMPTY = new KeySecretPoints([]);
  #sorted: SortedStrings;
  #names = new Map<string, string>();

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) {
      const ref = parseNamespacedName(secret);
      if (ref) this.#names.set(secretKey(ref.namespace, ref.name), secret);
    }
    this.#sorted = SortedStrings.from(this.#names.keys());
  }

  add(secret: string): void {
    const ref = parseNamespacedName(secret);
    if (!ref) return;
    const key = secretKey(ref.namespace, ref.name);
    this.#sorted.insert(key);
    this.#names.set(key, secret);
  }

  remove(secret: string): void {
    const ref = parseNamespacedName(secret);
    if (!ref) return;
    const key = secretKey(ref.namespace, ref.name);
    this.#sorted.remove(key);
    this.#names.delete(key);
  }

  /** The key Secrets that lie within the bounds of `keys` (to be judged exactly). */
  *under(keys: KeySet, except?: string): Generator<Denied> {
    if (this.#names.size === 0) return;
    const seen = new Set<string>();
    for (const part of keys.parts) {
      const bound = part.type === 'regexp' ? part.bound : part.value;
      for (const key of this.#sorted.startingWith(bound)) {
        if (seen.has(key) || this.#names.get(key) === except) continue;
        seen.add(key);
        yield { keys: exactKey(key), what: `the key Secret ${this.#names.get(key)!}` };
      }
    }
  }
}
