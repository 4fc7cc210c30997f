// The entry points of the rules: CREATE, UPDATE and DELETE of a
// TopologyConfig, judged against a view of the other configs and the cluster
// policy. Every error is reported at once, each at its field path.
import type { TopologyConfig } from '../resource/types.ts';
import {
  validateActiveDelete,
  validateActiveUpdate,
  validateFirstMatch,
  isActive,
  requestsOverride,
  takesActiveKeys,
} from './append-only.ts';
import { validateBackend, backendWarnings } from './backends.ts';
import { deployOrderWarnings, validateDeployOrder } from './deploy-order.ts';
import { validateBounds } from './bounds.ts';
import type { Conflict, Overlap } from './conflicts.ts';
import {
  assignedPositionWarning,
  conflictError,
  duplicatesWithin,
  overlapWarning,
} from './conflicts.ts';
import { hasAssignedPosition } from './auto-position.ts';
import { MAX_OVERLAPS } from './conflict-maps.ts';
import type { ConfigFacts } from './facts.ts';
import { factsOf } from './facts.ts';
import { endpointWarnings, resolveEndpoints } from './encryption.ts';
import type { FieldError, Verdict } from './field-errors.ts';
import { forbidden, quote, root, tooLong } from './field-errors.ts';
import { validatePosition } from './numbers.ts';
import type { Policy } from './policy.ts';
import { deniedKeySecrets, deniedRoutes, KeySecretPoints } from './deny-list.ts';
import {
  validateDecryptSecret,
  validateSecretReferences,
  validateTargetSecret,
} from './references.ts';
import { validateSchema } from './schema.ts';
import { validateSize } from './size.ts';
import { validateTenancy, validateTenantEndpoints } from './tenancy.ts';
import type { ConfigView, KeyLookup } from './view.ts';
import { isRecord } from '../resource/json.ts';

/** The Secret key `<10 digits>-<namespace>.<name>.yaml` must fit the API server's 253-character limit. */
export const MAX_NAMESPACE_AND_NAME = 253 - 10 - '-'.length - '.'.length - '.yaml'.length;

export function validateSecretKeyLength(config: TopologyConfig): FieldError[] {
  const { namespace, name } = config.metadata ?? {};
  if (typeof namespace !== 'string' || typeof name !== 'string') return [];
  if (namespace.length + name.length <= MAX_NAMESPACE_AND_NAME) return [];
  return [
    tooLong(
      'metadata.name',
      `namespace and name together may have at most ${MAX_NAMESPACE_AND_NAME} characters, so that the merged Secret's key <position>-<namespace>.<name>.yaml stays within 253`,
    ),
  ];
}

const backendsOf = (config: TopologyConfig): unknown[] =>
  Array.isArray(config.spec.backends) ? config.spec.backends : [];

function staticWarnings(config: TopologyConfig): string[] {
  const backends = root('spec').child('backends');
  const encrypted = Boolean(config.spec.endpointDecryptSecret);
  const order = deployOrderWarnings(config.metadata, config.spec.position);
  return order.concat(
    backendsOf(config).flatMap((b, i) => [
      ...backendWarnings(b, backends.index(i)),
      // Encrypted endpoints are judged once decrypted (validateCreate/Update).
      ...(encrypted
        ? []
        : endpointWarnings(
            (b as { endpoint?: unknown } | null)?.endpoint,
            backends.index(i).child('endpoint').path,
            false,
          )),
    ]),
  );
}

/** The config's own key Secret, `namespace/name`, if it names one. */
function ownKeySecret(config: TopologyConfig): string | undefined {
  const secret: unknown = config.spec.endpointDecryptSecret;
  return typeof secret === 'string' && secret !== '' ? secret : undefined;
}

/** Routes over keys nobody may route: the policy's deny list and the config's own key Secret. */
function deniedStatic(config: TopologyConfig, policy: Policy): Verdict {
  const facts = factsOf(config, []);
  const own = ownKeySecret(config);
  const verdicts = [
    deniedRoutes(facts, policy),
    ...(own ? [deniedKeySecrets(facts, [new KeySecretPoints([own])])] : []),
  ];
  return {
    errors: verdicts.flatMap((v) => v.errors),
    warnings: verdicts.flatMap((v) => v.warnings),
  };
}

/** The rules beyond the schema; each reads only the fields it can trust, so they run even when the schema fails. */
function semanticErrors(config: TopologyConfig, policy: Policy, denied: Verdict): FieldError[] {
  const spec = root('spec');
  return [
    ...validateSecretKeyLength(config),
    ...validateTargetSecret(config.spec.targetSecret, spec.child('targetSecret'), policy),
    ...validateDecryptSecret(
      config.spec.endpointDecryptSecret,
      spec.child('endpointDecryptSecret'),
      config.metadata?.namespace,
      policy,
    ),
    ...validatePosition(config.spec.position, spec.child('position')),
    ...validateDeployOrder(config.metadata),
    ...backendsOf(config).flatMap((b, i) => validateBackend(b, spec.child('backends').index(i))),
    ...duplicatesWithin(factsOf(config, []), ['name', 'selector']),
    ...validateTenancy(config, policy.tenancy),
    ...denied.errors,
  ];
}

/**
 * The rules that need nothing but the object and the policy: bounds (a config
 * over one is judged no further), schema, formats,
 * ranges, regular expressions, policy, duplicates within the config. All are
 * reported at once (a field the schema already faults is not faulted twice).
 * `config` is set when the object passes the schema, so that its types can be
 * trusted by the rules against the view, even if other rules fail.
 */
export function validateStatic(
  obj: unknown,
  policy: Policy,
): { config?: TopologyConfig; verdict: Verdict } {
  // Before anything that costs in proportion to the input.
  const bounds = validateBounds(obj);
  if (bounds.length > 0) return { verdict: { errors: bounds, warnings: [] } };
  const schemaErrors = validateSchema(obj);
  if (!isRecord(obj) || !isRecord(obj.spec))
    return { verdict: { errors: schemaErrors, warnings: [] } };
  const candidate = obj as unknown as TopologyConfig;
  const faulted = new Set(schemaErrors.map((e) => e.field));
  const denied = deniedStatic(candidate, policy);
  const errors = [
    ...schemaErrors,
    ...semanticErrors(candidate, policy, denied).filter((e) => !faulted.has(e.field)),
  ];
  const verdict = { errors, warnings: [...staticWarnings(candidate), ...denied.warnings] };
  return schemaErrors.length > 0 ? { verdict } : { config: candidate, verdict };
}

export interface Resolved {
  facts: ConfigFacts;
  endpoints: (string | undefined)[];
  errors: FieldError[];
  warnings: string[];
}

/** Decrypts the endpoints (when encrypted) and derives the config's facts. */
export function resolveConfig(config: TopologyConfig, keys: KeyLookup, policy: Policy): Resolved {
  const { endpoints, errors } = resolveEndpoints(config, keys, policy);
  const facts = factsOf(config, endpoints);
  const warnings = config.spec.endpointDecryptSecret
    ? endpoints.flatMap((e, i) => endpointWarnings(e, `spec.backends[${i}].endpoint`, true))
    : [];
  return {
    facts,
    endpoints,
    errors: [
      ...errors,
      ...duplicatesWithin(facts, ['endpoint']),
      ...validateSecretReferences(endpoints, config.metadata?.namespace, policy),
      ...validateTenantEndpoints(config, endpoints, policy.tenancy),
    ],
    warnings,
  };
}

/**
 * The rules against the other configs: conflicts, size, first match, and the
 * overlaps the order resolves (warnings). `placed`: which backends are placed
 * anew (all for a new or moved config; new and changed ones of an Active one).
 * `assigned`: the position is the one the product assigned, not one this
 * request chose; a collision of it is the reconciler's to resolve (it moves
 * this config), so it is a warning here: its author chose no position.
 */
function judgeAgainstView(
  config: TopologyConfig,
  resolved: Resolved,
  view: ConfigView,
  policy: Policy,
  placed: 'all' | ReadonlySet<number>,
  assigned: boolean,
): Verdict {
  const { facts } = resolved;
  const conflicts = view.findConflicts(facts);
  const waived = (c: Conflict) => assigned && c.kind === 'position';
  const overlaps = view.findOverlaps(facts);
  // Other configs' key Secrets (its own is a static rule).
  const keySecrets = deniedKeySecrets(facts, [view.keySecretPoints()], ownKeySecret(config));
  const refused = validateFirstMatch(config, overlaps, placed);
  // Refused overlaps are not also warnings; with the override they are.
  const override = requestsOverride(config);
  const harmless = (o: Overlap) => override || !takesActiveKeys(o, placed);
  return {
    errors: [
      ...resolved.errors,
      ...conflicts.filter((c) => !waived(c)).map((c) => conflictError(c, facts)),
      ...validateSize(config, resolved.endpoints, view, policy),
      ...refused,
      ...keySecrets.errors,
    ],
    warnings: [
      ...resolved.warnings,
      ...conflicts
        .filter(waived)
        .slice(0, 1)
        .map((c) => assignedPositionWarning(c, facts)),
      ...keySecrets.warnings,
      ...overlaps.filter(harmless).slice(0, MAX_OVERLAPS).map(overlapWarning),
    ],
  };
}

function combine(...verdicts: Verdict[]): Verdict {
  return {
    errors: verdicts.flatMap((v) => v.errors),
    warnings: verdicts.flatMap((v) => v.warnings),
  };
}

export function validateCreate(obj: unknown, view: ConfigView, policy: Policy): Verdict {
  const { config, verdict } = validateStatic(obj, policy);
  if (!config) return verdict;
  const resolved = resolveConfig(config, view, policy);
  const assigned = hasAssignedPosition(config);
  return combine(verdict, judgeAgainstView(config, resolved, view, policy, 'all', assigned));
}

/** The backends of an Active config that an UPDATE adds or changes (by index). */
function changedBackends(facts: ConfigFacts, oldFacts: ConfigFacts): Set<number> {
  const before = new Map(oldFacts.backends.map((b) => [b.name, b]));
  const changed = new Set<number>();
  for (const b of facts.backends) {
    const was = b.name === undefined ? undefined : before.get(b.name);
    const same =
      was !== undefined &&
      was.index === b.index &&
      was.endpointHash === b.endpointHash &&
      was.selectors.map((s) => s.canonical).join('\u0000') ===
        b.selectors.map((s) => s.canonical).join('\u0000');
    if (!same) changed.add(b.index);
  }
  return changed;
}

/** Judged like a CREATE minus the object's own old self, plus the rules of change. */
export function validateUpdate(
  obj: unknown,
  old: TopologyConfig,
  view: ConfigView,
  policy: Policy,
): Verdict {
  const { config, verdict } = validateStatic(obj, policy);
  if (!config) return verdict;
  const resolved = resolveConfig(config, view, policy);
  const oldFacts = view.factsOfVersion(old) ?? resolveConfig(old, view, policy).facts;
  const errors: FieldError[] = [];
  if (old.spec?.targetSecret !== undefined && config.spec.targetSecret !== old.spec.targetSecret) {
    errors.push(
      forbidden(
        'spec.targetSecret',
        `is immutable (was ${quote(old.spec.targetSecret)}): delete this TopologyConfig and create it again to move it`,
      ),
    );
  }
  errors.push(...validateActiveUpdate(config, old, resolved.facts, oldFacts));
  // A config that is not yet in the Secret, or that moves, is placed anew; an
  // Active one in place only with its new and changed backends.
  const placed =
    !isActive(old) || resolved.facts.position !== oldFacts.position
      ? 'all'
      : changedBackends(resolved.facts, oldFacts);
  // A position this request changed is its writer's choice (the reconciler's
  // move too: checked like any, against this replica's cache).
  const assigned = hasAssignedPosition(config) && config.spec.position === old.spec?.position;
  return combine(verdict, judgeAgainstView(config, resolved, view, policy, placed, assigned), {
    errors,
    warnings: [],
  });
}

/**
 * An UPDATE that leaves the spec as it was and changes annotations: judged
 * by the rules of change only (the spec's own rules were judged when it was
 * written, and a config the Secret keeps in Error must stay annotatable so
 * that it can be deleted under an authorised override). The override
 * annotation is inert, so adding it authorises nothing.
 */
export function validateAnnotationUpdate(
  obj: TopologyConfig,
  old: TopologyConfig,
  view: ConfigView,
  policy: Policy,
): Verdict {
  // Same spec: the same facts (endpoints included) on both sides.
  const facts = view.factsOfVersion(old) ?? resolveConfig(old, view, policy).facts;
  return { errors: validateActiveUpdate(obj, old, facts, facts), warnings: [] };
}

export function validateDelete(old: TopologyConfig, _view: ConfigView, _policy: Policy): Verdict {
  return { errors: validateActiveDelete(old), warnings: [] };
}
