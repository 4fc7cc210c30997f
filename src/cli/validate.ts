// `topology validate`: the webhook's rules applied to manifest files. The
// configs are judged in the order they are given, as `kubectl apply -f a -f b`
// would send them: each is defaulted like the mutating webhook does, then
// judged against the configs accepted before it, and joins the view only if
// accepted. A conflict is therefore reported on the later config, naming the
// earlier one. Secrets among the files serve as endpoint-key Secrets.

import type { TopologyConfig } from '../resource/types.ts';
import { ConfigIndex } from '../rules/config-index.ts';
import { defaultConfig } from '../rules/defaults.ts';
import type { Verdict } from '../rules/field-errors.ts';
import { duplicate, formatFieldError, required } from '../rules/field-errors.ts';
import { validateCreate } from '../rules/index.ts';
import type { Policy } from '../rules/policy.ts';
import type { Manifest, ManifestConfig } from './manifests.ts';
import { isRecord } from '../resource/json.ts';

export interface Judged {
  source: ManifestConfig;
  /** The object as the mutating webhook would have left it. */
  defaulted: TopologyConfig;
  verdict: Verdict;
}

export interface Admission {
  judged: Judged[];
  /** The accepted configs (and the key Secrets), as the cluster would hold them. */
  view: ConfigIndex;
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

/** Judges every config of `manifest` in order; pure apart from the index it builds. */
export function admit(manifest: Manifest, policy: Policy): Admission {
  const view = new ConfigIndex();
  for (const secret of manifest.secrets) {
    view.setKeys(secret, secret.keys, secret.labeled);
  }
  const seen = new Map<string, ManifestConfig>();
  const judged = manifest.configs.map((source): Judged => {
    const submitted = asSubmitted(source.object);
    const defaulted = isRecord(submitted.spec) ? defaultConfig(submitted, view, policy) : submitted;
    const verdict = validateCreate(defaulted, view, policy);
    const key = `${source.namespace}/${source.name}`;
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
    if (verdict.errors.length === 0) view.upsert(defaulted);
    return { source, defaulted, verdict };
  });
  return { judged, view };
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
