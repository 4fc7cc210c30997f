// Routing is first-match and only appending is safe. Once a config is Active,
// data has been written through its routes; renaming, re-pointing, removing
// or reordering its backends, changing their selectors or its position,
// deleting it, or placing routes before it that take some of its keys (any
// selector types, judged by the key-space model) can strand that data. Such
// changes are refused here with the namespaces they touch (FieldError
// .override); the webhook lets them through only for a user RBAC allows to
// override in each of those namespaces, asked per request (override.ts).
import { ALLOW_ROUTING_CHANGE_ANNOTATION } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import type { Overlap } from './conflicts.ts';
import type { ConfigFacts } from './facts.ts';
import type { FieldError, Verdict } from './field-errors.ts';
import { forbidden, quote } from './field-errors.ts';

const howTo = (namespaces: readonly string[]) =>
  `a user whom RBAC allows the verb "override" on topologyconfigs.harikube.info in namespace ${[...namespaces].sort().join(', ')} (ClusterRole topologyconfig-routing-override) may do it anyway, with the annotation ${ALLOW_ROUTING_CHANGE_ANNOTATION}: "true" on the object`;
const stranded = (namespaces: readonly string[]) =>
  `this TopologyConfig is Active, and data already written through its routes would become unreachable; ${howTo(namespaces)}`;

/** A refusal an authorised user may override; `namespaces` are those whose routes or data it touches. */
const unsafe = (field: string, detail: string, namespaces: readonly string[]): FieldError => ({
  ...forbidden(field, detail),
  override: [...new Set(namespaces)].sort(),
});

/** The namespaces whose data a config's routes hold: its own, and those its namespace selectors name. */
export function touchedNamespaces(config: TopologyConfig): string[] {
  const own = config.metadata?.namespace ?? '';
  const routed = (Array.isArray(config.spec?.backends) ? config.spec.backends : []).flatMap((b) => {
    const ns = (b as { namespace?: { namespace?: unknown } } | null)?.namespace?.namespace;
    return typeof ns === 'string' && ns !== '' ? [ns] : [];
  });
  return [...new Set([own, ...routed])].sort();
}

/** Whether data may have been written through the config's routes: Active, or in Error with its entry kept. */
export function isActive(config: TopologyConfig | undefined): boolean {
  return config?.status?.deployStatus === 'Active' || config?.status?.keptInSecret === true;
}

/**
 * Whether the object asks for the override. It is only the request: an
 * annotation grants nothing by being there; each request's user is asked.
 */
export function requestsOverride(config: TopologyConfig | undefined): boolean {
  return config?.metadata?.annotations?.[ALLOW_ROUTING_CHANGE_ANNOTATION] === 'true';
}

/** Deleting an Active config strands its data; a config that is not Active may always go. */
export function validateActiveDelete(old: TopologyConfig): FieldError[] {
  if (!isActive(old) || old.metadata?.deletionTimestamp) return [];
  const namespaces = touchedNamespaces(old);
  return [
    unsafe(
      'metadata.annotations',
      `this TopologyConfig is Active: deleting it would make data already written through its routes unreachable; to delete it anyway, first set the annotation ${ALLOW_ROUTING_CHANGE_ANNOTATION}: "true" (the delete is then allowed to a user whom RBAC allows the verb "override" on topologyconfigs.harikube.info in namespace ${namespaces.join(', ')}: ClusterRole topologyconfig-routing-override)`,
      namespaces,
    ),
  ];
}

/** The backend changes of an UPDATE that an Active config must not make. Facts carry effective endpoints. */
export function validateActiveUpdate(
  config: TopologyConfig,
  old: TopologyConfig,
  facts: ConfigFacts,
  oldFacts: ConfigFacts,
): FieldError[] {
  if (!isActive(old)) return [];
  const errors: FieldError[] = [];
  const namespaces = [...new Set([...touchedNamespaces(old), ...touchedNamespaces(config)])];
  const STRANDED = stranded(namespaces);
  const forbidden = (field: string, detail: string) => unsafe(field, detail, namespaces);
  if (facts.position !== oldFacts.position) {
    errors.push(
      forbidden(
        'spec.position',
        `changed from ${oldFacts.position} to ${facts.position}; ${STRANDED}`,
      ),
    );
  }
  const newIndex = new Map(facts.backends.map((b) => [b.name, b.index]));
  const oldNames = new Set(oldFacts.backends.map((b) => b.name));
  for (const before of oldFacts.backends) {
    const path = `spec.backends[${before.index}]`;
    const now = facts.backends[before.index];
    const j = newIndex.get(before.name);
    if (j === undefined) {
      if (now && !oldNames.has(now.name)) {
        errors.push(
          forbidden(
            `${path}.name`,
            `renamed from ${quote(before.name)} to ${quote(now.name)}; ${STRANDED}`,
          ),
        );
      } else {
        errors.push(
          forbidden(
            'spec.backends',
            `backend ${quote(before.name)} (${path}) was removed; ${STRANDED}`,
          ),
        );
      }
      continue;
    }
    if (j !== before.index) {
      errors.push(
        forbidden(
          `spec.backends[${j}]`,
          `backend ${quote(before.name)} moved from ${path} (new backends may only be added at the end); ${STRANDED}`,
        ),
      );
      continue;
    }
    const after = facts.backends[j]!;
    if (before.endpointHash !== after.endpointHash)
      errors.push(forbidden(`${path}.endpoint`, `changed; ${STRANDED}`));
    for (const field of ['customresource', 'namespace', 'prefix', 'regexp'] as const) {
      const a = before.selectors.find((s) => s.field === field)?.canonical;
      const b = after.selectors.find((s) => s.field === field)?.canonical;
      if (a !== b)
        errors.push(forbidden(`${path}.${field}`, `routing selector changed; ${STRANDED}`));
    }
  }
  return errors;
}

/** Whether an overlap takes keys from an Active config after this one, through a backend placed anew. */
export function takesActiveKeys(o: Overlap, checked: 'all' | ReadonlySet<number>): boolean {
  return !o.otherWins && o.other.active && (checked === 'all' || checked.has(o.backend));
}

/** How many first-match refusals one reason lists at most. */
const MAX_TAKEN = 5;

/**
 * First match across all selector types (replacing "nothing before an Active
 * config"): the backends `checked` (all, or the indexes of new and changed
 * ones) must not take keys that an Active config after this one receives;
 * data already stored there through its routes would become unreachable. An
 * overlap the model cannot decide (a regular expression) is refused too. An
 * override of this config's namespaces and the other config's.
 */
export function validateFirstMatch(
  config: TopologyConfig,
  overlaps: readonly Overlap[],
  checked: 'all' | ReadonlySet<number>,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const o of overlaps) {
    if (!takesActiveKeys(o, checked)) continue;
    if (errors.length === MAX_TAKEN) break;
    const namespaces = [...touchedNamespaces(config), o.other.ref.namespace];
    const other = `${o.other.key} (position ${o.other.position ?? 'unset'})`;
    const what =
      o.verdict === 'yes'
        ? `would take keys that ${other} receives through ${o.otherField}, e.g. ${o.shown}`
        : `may take keys that ${other} receives through ${o.otherField} (a regular expression this check cannot decide; anchor it as ^/registry/… to make it decidable)`;
    errors.push(
      unsafe(
        o.field,
        `${what}: ${o.other.key} is Active and comes after this config, so data already written through its routes would become unreachable; route other keys, or ${howTo(namespaces)}`,
        namespaces,
      ),
    );
  }
  return errors;
}

/**
 * The namespaces an override must be authorised in, when it can decide the
 * verdict: every error is an unsafe change and the object asks for the
 * override. Undefined otherwise (nothing to override, or other errors too).
 */
export function overrideNamespaces(verdict: Verdict, requested: boolean): string[] | undefined {
  const unsafe = verdict.errors.filter((e) => e.override);
  if (!requested || unsafe.length === 0 || unsafe.length < verdict.errors.length) return undefined;
  return [...new Set(unsafe.flatMap((e) => e.override ?? []))].sort();
}

/**
 * Offline (validate, render, diff) there is no user to ask: the override the
 * object asks for is assumed authorised, as a preview of an apply by someone
 * who holds it; the webhook asks RBAC for the real one.
 */
export function assumingOverride(verdict: Verdict, config: TopologyConfig): Verdict {
  return overrideNamespaces(verdict, requestsOverride(config))
    ? { errors: [], warnings: verdict.warnings }
    : verdict;
}
