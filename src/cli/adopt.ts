// `topology adopt`: what the reconciler would make of a target Secret the
// seed's operator wrote once it is labelled for adoption. The same plan the
// reconciler runs (reconcile/adopt.ts), then the same merge, and the
// middleware's routes before and after compared: the adoption itself never
// moves a key (it is refused otherwise); what the configs changed since the
// seed wrote its entries, or configs that join, may.
import { ADOPT_LABEL, parseNamespacedName } from '../resource/names.ts';
import type { TopologyConfig } from '../resource/types.ts';
import {
  describeChange,
  planAdoption,
  routesOf,
  routingChanges,
  type AdoptedEntry,
} from '../reconcile/adopt.ts';
import { ENTRIES_ANNOTATION, entriesAnnotation } from '../reconcile/incumbents.ts';
import { mergeAll } from '../reconcile/merge.ts';
import type { Secret } from '../reconcile/reconciler.ts';
import type { Policy } from '../rules/policy.ts';
import type { KeyLookup } from '../rules/view.ts';
import { isManagedSecret, managedSecret } from '../secret-format/secret.ts';

export interface AdoptPreview {
  target: string;
  /** 'adoptable': the label would have it adopted; 'managed': nothing to adopt. */
  state: 'adoptable' | 'refused' | 'managed' | 'missing';
  /** Why it would not be adopted. */
  problems: string[];
  entries: Array<AdoptedEntry & { outcome?: 'Active' | 'Error'; reason?: string }>;
  /** Configs naming the Secret with no entry in it yet: merged as newcomers. */
  newcomers: Array<{ config: string; key?: string; outcome?: 'Active' | 'Error'; reason?: string }>;
  /** Seed keys that change places without changing a route. */
  reordered: string[];
  /** Keys the middleware would route elsewhere after adoption (one sentence each). */
  routingChanges: string[];
  /** The Secret the reconciler would write (stringData, as `topology render` prints it). */
  secret?: object;
}

const refOf = (c: TopologyConfig) => `${c.metadata?.namespace ?? ''}/${c.metadata?.name ?? ''}`;

const decoded = (secret: Secret): Record<string, string> =>
  Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );

/** The preview of adopting `target` (its Secret as read; undefined: it does not exist). */
export function previewAdoption(
  target: string,
  secret: Secret | undefined,
  configs: readonly TopologyConfig[],
  keys: KeyLookup,
  policy: Policy,
): AdoptPreview {
  const preview: AdoptPreview = {
    target,
    state: 'refused',
    problems: [],
    entries: [],
    newcomers: [],
    reordered: [],
    routingChanges: [],
  };
  if (!secret) return { ...preview, state: 'missing', problems: [`Secret ${target} not found`] };
  if (isManagedSecret(secret)) return { ...preview, state: 'managed' };
  const targetOf = (c: TopologyConfig) =>
    typeof c.spec?.targetSecret === 'string' ? c.spec.targetSecret : policy.defaultTargetSecret;
  const live = configs.filter((c) => !c.metadata?.deletionTimestamp);
  const naming = live.filter((c) => targetOf(c) === target);
  if (naming.length === 0)
    return { ...preview, problems: [`no TopologyConfig names Secret ${target}`] };
  const data = decoded(secret);
  const plan = planAdoption(data, naming);
  if (!plan.ok) return { ...preview, problems: plan.problems };

  const result = mergeAll(live, keys, policy, { written: new Map([[target, plan.written]]) }).get(
    target,
  )!;
  const adopted = new Set(plan.entries.map((e) => e.config));
  const outcomeOf = (
    config: string,
  ): { outcome?: 'Active' | 'Error'; key?: string; reason?: string } => {
    const outcome = result.outcomes.get(config);
    return outcome
      ? {
          outcome: outcome.state,
          ...(outcome.key ? { key: outcome.key } : {}),
          ...(outcome.state === 'Error' ? { reason: outcome.reason } : {}),
        }
      : {};
  };
  const ref = parseNamespacedName(target)!;
  const written = managedSecret(ref, result.data, 'stringData', {
    ...secret.metadata.annotations,
    [ENTRIES_ANNOTATION]: entriesAnnotation(result.owners),
  });
  // Labels the Secret had stay (the reconciler keeps them), the request aside.
  const { [ADOPT_LABEL]: _asked, ...labels } = secret.metadata.labels ?? {};
  written.metadata.labels = { ...labels, ...written.metadata.labels };
  return {
    ...preview,
    state: 'adoptable',
    entries: plan.entries.map((e) => {
      const { key: _key, ...outcome } = outcomeOf(e.config);
      return { ...e, ...outcome };
    }),
    newcomers: naming
      .map(refOf)
      .filter((c) => !adopted.has(c))
      .sort()
      .map((config) => ({ config, ...outcomeOf(config) })),
    reordered: plan.reordered,
    routingChanges: routingChanges(routesOf(data), routesOf(result.data)).map(describeChange),
    secret: written,
  };
}

/** Text: a summary as YAML comments, then the Secret (a stream `kubectl apply` would also read). */
export function previewLines(preview: AdoptPreview): string[] {
  const { target } = preview;
  switch (preview.state) {
    case 'missing':
    case 'refused':
      return [
        `# Secret ${target} would not be adopted:`,
        ...preview.problems.map((p) => `#   ${p}`),
      ];
    case 'managed':
      return [`# Secret ${target} is already managed by topology-webhook: nothing to adopt`];
    case 'adoptable':
  }
  const status = (o: { outcome?: string; reason?: string }) =>
    o.outcome === 'Error' ? `Error: ${o.reason}` : (o.outcome ?? 'not merged');
  return [
    `# Secret ${target} would be adopted (each entry kept in the order the middleware reads it):`,
    ...preview.entries.map((e) => `#   ${e.from} -> ${e.to} (${e.config}: ${status(e)})`),
    ...preview.newcomers.map((n) => `#   new: ${n.key ?? n.config} (${n.config}: ${status(n)})`),
    ...(preview.reordered.length > 0
      ? [
          `#   reordered without a routing change (their routes share no key): ${preview.reordered.join(', ')}`,
        ]
      : []),
    preview.routingChanges.length === 0
      ? '# routing: every key the middleware routes today goes to the same backend'
      : `# routing: some keys would go elsewhere:`,
    ...preview.routingChanges.map((c) => `#   ${c}`),
  ];
}
