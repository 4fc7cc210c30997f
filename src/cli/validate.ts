// `topology validate`: the webhook's rules applied to manifest files. The
// configs are judged in the order they are given, as `kubectl apply -f a -f b`
// would send them: each is defaulted like the mutating webhook does, then
// judged against the configs accepted before it, and joins the view only if
// accepted. A conflict is therefore reported on the later config, naming the
// earlier one. Secrets among the files serve as endpoint-key Secrets.
//
// `topology diff` passes the cluster's configs and key Secrets too: they are
// in the view from the start, and a file config with the namespace/name of a
// cluster one is judged as the UPDATE that `kubectl apply` would send.

import { isDeepStrictEqual } from 'node:util';
import type { EndpointKey } from '../crypto/aes-gcm.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { ConfigIndex } from '../rules/config-index.ts';
import { defaultConfig } from '../rules/defaults.ts';
import type { Verdict } from '../rules/field-errors.ts';
import { duplicate, formatFieldError, required } from '../rules/field-errors.ts';
import { validateCreate, validateUpdate } from '../rules/index.ts';
import { assumingOverride } from '../rules/append-only.ts';
import type { Policy } from '../rules/policy.ts';
import type { Manifest, ManifestConfig } from './manifests.ts';
import { isRecord } from '../resource/json.ts';
import { objectKey, formatNamespacedName } from '../resource/names.ts';

export interface Judged {
  source: ManifestConfig;
  /** The object as the mutating webhook would have left it. */
  defaulted: TopologyConfig;
  verdict: Verdict;
  /** The cluster's version this file would update (diff only). */
  old?: TopologyConfig;
}

export interface Admission {
  judged: Judged[];
  /** The accepted configs (and the key Secrets), as the cluster would hold them. */
  view: ConfigIndex;
  /** Every config the cluster would hold afterwards: its own, replaced or joined by the accepted ones. */
  configs: TopologyConfig[];
}

/** What `topology diff` read from the cluster. */
export interface ClusterState {
  configs: readonly TopologyConfig[];
  keySecrets: ReadonlyArray<{
    namespace: string;
    name: string;
    keys: EndpointKey[];
    labeled: boolean;
  }>;
}

// Fields the API server sets or ignores on create: a manifest saved with
// `kubectl get -o yaml` must not be judged as already Active or deleting.
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
];

function asSubmitted(object: Record<string, unknown>): TopologyConfig {
  const { status: _status, ...rest } = object;
  const metadata = isRecord(rest.metadata) ? { ...rest.metadata } : {};
  for (const field of SERVER_METADATA) delete metadata[field];
  return { ...rest, metadata } as unknown as TopologyConfig;
}

/**
 * What `kubectl apply` sends for a config the cluster holds: the stored
 * object with the file's spec, its labels and annotations added (the
 * override annotation among them); the status stays the cluster's.
 */
function asUpdate(object: Record<string, unknown>, old: TopologyConfig): TopologyConfig {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const merged = (field: 'labels' | 'annotations') => ({
    ...old.metadata[field],
    ...(isRecord(metadata[field]) ? metadata[field] : {}),
  });
  return {
    ...old,
    metadata: { ...old.metadata, labels: merged('labels'), annotations: merged('annotations') },
    spec: object.spec,
  } as TopologyConfig;
}

/** Judges every config of `manifest` in order (against `cluster`'s, when given); pure apart from the index it builds. */
export function admit(manifest: Manifest, policy: Policy, cluster?: ClusterState): Admission {
  const view = new ConfigIndex();
  const existing = new Map((cluster?.configs ?? []).map((c) => [objectKey(c), c]));
  for (const secret of [...(cluster?.keySecrets ?? []), ...manifest.secrets]) {
    view.setKeys(secret, secret.keys, secret.labeled);
  }
  for (const config of existing.values()) view.upsert(config);
  const seen = new Map<string, ManifestConfig>();
  const judged = manifest.configs.map((source): Judged => {
    const key = formatNamespacedName(source);
    const old = source.name ? existing.get(key) : undefined;
    const submitted = old ? asUpdate(source.object, old) : asSubmitted(source.object);
    const defaulted = isRecord(submitted.spec)
      ? defaultConfig(submitted, view, policy, old)
      : submitted;
    // The webhook admits an UPDATE that leaves the spec as it was without judging it.
    const verdict: Verdict = assumingOverride(
      !old
        ? validateCreate(defaulted, view, policy)
        : isDeepStrictEqual(defaulted.spec, old.spec)
          ? { errors: [], warnings: [] }
          : validateUpdate(defaulted, old, view, policy),
      defaulted,
    );
    const earlier = source.name ? seen.get(key) : undefined;
    if (!source.name) {
      // The API server requires it (the webhook never sees an object without
      // one); a file can lack it.
      verdict.errors.unshift(required('metadata.name', 'Required value'));
    } else if (earlier) {
      // kubectl would apply the second over the first; in a repository that is a mistake.
      verdict.errors.unshift(
        duplicate('metadata.name', `${key} is also defined in ${earlier.file}`),
      );
    } else {
      seen.set(key, source);
    }
    if (verdict.errors.length === 0) {
      // The API server counts a change of spec as a new generation; the merge tells them apart by it.
      if (old && !isDeepStrictEqual(defaulted.spec, old.spec))
        defaulted.metadata = {
          ...defaulted.metadata,
          generation: (old.metadata.generation ?? 0) + 1,
        };
      view.upsert(defaulted);
      existing.set(key, defaulted);
    }
    return { source, defaulted, verdict, ...(old ? { old } : {}) };
  });
  return { judged, view, configs: [...existing.values()] };
}

/** `<file>: <namespace>/<name>: <field>: <reason>` and `…: warning: <text>` lines. */
export function verdictLines(judged: readonly Judged[]): string[] {
  return judged.flatMap(({ source, verdict }) => {
    const subject = `${source.file}: ${source.namespace}/${source.name || '(no name)'}`;
    return [
      ...verdict.errors.map((error) => `${subject}: ${formatFieldError(error)}`),
      ...verdict.warnings.map((warning) => `${subject}: warning: ${warning}`),
    ];
  });
}

export const accepted = (judged: readonly Judged[]): boolean =>
  judged.every((j) => j.verdict.errors.length === 0);
