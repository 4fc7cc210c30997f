// `topology diff`: what applying the files would do to the Secrets the
// middleware reads. The files are judged as the webhook would judge them
// against the cluster's configs (admit with a ClusterState), the accepted
// ones replace or join the cluster's, and the merge the reconciler would run
// gives each target's new data, compared key by key with the Secret it holds
// now. Only key names are printed: a value may hold an endpoint.
//
// Like `kubectl apply` without --prune, a config missing from the files is
// left as it is, not deleted.

import {
  ADOPT_LABEL,
  formatNamespacedName,
  objectKey,
  parseNamespacedName,
} from '../resource/names.ts';
import { adoptionRequested, looksLikeSeed, planAdoption } from '../reconcile/adopt.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { mergeAll } from '../reconcile/merge.ts';
import type { WrittenSecret } from '../reconcile/incumbents.ts';
import { writtenOf, type Secret } from '../reconcile/reconciler.ts';
import type { Policy } from '../rules/policy.ts';
import { isManagedSecret } from '../secret-format/secret.ts';
import type { Admission } from './validate.ts';

export interface TargetDiff {
  /** `namespace/name` of the target Secret. */
  target: string;
  /** Whether the Secret exists now. */
  exists: boolean;
  added: string[];
  changed: string[];
  removed: string[];
  /** Why the reconciler would not write this Secret at all (then no keys are listed). */
  blocked?: string;
}

export interface Diff {
  targets: TargetDiff[];
  /** `<file>: <namespace>/<name>: error: <reason>` per config that would end in Error. */
  errors: string[];
}

/** The target of every config, as the merge groups them. */
export function targetsOf(configs: readonly TopologyConfig[], policy: Policy): string[] {
  const targets = configs.map((c) =>
    typeof c.spec?.targetSecret === 'string' ? c.spec.targetSecret : policy.defaultTargetSecret,
  );
  return [...new Set(targets)].sort();
}

const decoded = (secret: Secret | undefined): Record<string, string> =>
  Object.fromEntries(
    Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );

/**
 * The change per target Secret. `secrets` holds the current Secret of each
 * target (undefined: it does not exist); `cluster` the configs as they are.
 */
export function diffSecrets(
  admission: Admission,
  cluster: readonly TopologyConfig[],
  secrets: ReadonlyMap<string, Secret | undefined>,
  policy: Policy,
): Diff {
  // What each Secret holds now and for whom: the merge keeps incumbents' entries as the reconciler does.
  const written = new Map<string, WrittenSecret>();
  // Unmanaged Secrets: adopted as the reconciler would (labelled, every key routed as
  // today), else the reason they are not written.
  const notWritten = new Map<string, string>();
  for (const [target, secret] of secrets) {
    if (!secret) continue;
    if (isManagedSecret(secret)) {
      written.set(target, writtenOf(secret, cluster));
      continue;
    }
    const plan = adoptionRequested(secret)
      ? planAdoption(
          decoded(secret),
          // Configs the API server holds (a uid): the entries' writers are among them.
          admission.configs.filter(
            (c) =>
              c.metadata?.uid &&
              !c.metadata.deletionTimestamp &&
              targetsOf([c], policy)[0] === target,
          ),
        )
      : undefined;
    if (plan?.ok) written.set(target, plan.written);
    else
      notWritten.set(
        target,
        plan
          ? `labelled ${ADOPT_LABEL}=true but not adoptable: ${plan.problems.join('; ')}`
          : looksLikeSeed(secret.data)
            ? `exists and is not managed by topology-webhook: it is never overwritten until adopted (see "topology adopt --dry-run ${target}")`
            : 'exists and is not managed by topology-webhook: it is never overwritten',
      );
  }
  const results = mergeAll(admission.configs, admission.view, policy, { written });
  const fromFile = new Map(
    admission.judged.map((j) => [formatNamespacedName(j.source), j.source.file]),
  );
  const wasError = new Set(
    cluster.filter((c) => c.status?.deployStatus === 'Error').map((c) => objectKey(c)),
  );
  const touched = new Set(
    targetsOf(
      admission.judged.map((j) => j.defaulted),
      policy,
    ),
  );
  const targets: TargetDiff[] = [];
  const errors: string[] = [];
  for (const target of [...results.keys()].sort()) {
    const result = results.get(target)!;
    const secret = secrets.get(target);
    const diff: TargetDiff = {
      target,
      exists: secret !== undefined,
      added: [],
      changed: [],
      removed: [],
    };
    const ref = parseNamespacedName(target);
    if (!result.targetAllowed || !ref) {
      diff.blocked = `not allowed by the cluster policy (--allowed-target-secrets)`;
    } else if (notWritten.has(target)) {
      diff.blocked = notWritten.get(target);
    } else {
      const now = decoded(secret);
      for (const [key, value] of Object.entries(result.data)) {
        if (!(key in now)) diff.added.push(key);
        else if (now[key] !== value) diff.changed.push(key);
      }
      diff.removed = Object.keys(now)
        .filter((key) => !(key in result.data))
        .sort();
    }
    // A target no file names can only be blocked by the policy given here: not news.
    if (!diff.blocked || touched.has(target)) targets.push(diff);
    for (const [key, outcome] of [...result.outcomes].sort(([a], [b]) => (a < b ? -1 : 1))) {
      // A cluster config already in Error is not news; one the change puts there is.
      if (outcome.state !== 'Error' || (!fromFile.has(key) && wasError.has(key))) continue;
      errors.push(`${fromFile.get(key) ?? '(cluster)'}: ${key}: error: ${outcome.reason}`);
    }
  }
  return { targets, errors };
}

export const changed = (diff: TargetDiff): boolean =>
  diff.added.length + diff.changed.length + diff.removed.length > 0;

/** `Secret ns/name:` then `+ key`, `~ key`, `- key` lines; nothing for an unchanged Secret. */
export function diffLines(diffs: readonly TargetDiff[]): string[] {
  return diffs.flatMap((d) => {
    if (d.blocked) return [`Secret ${d.target}: would not be written: ${d.blocked}`];
    if (!changed(d)) return [];
    return [
      `Secret ${d.target}${d.exists ? '' : ' (would be created)'}:`,
      ...d.added.map((key) => `  + ${key}`),
      ...d.changed.map((key) => `  ~ ${key} (value changed)`),
      ...d.removed.map((key) => `  - ${key}`),
    ];
  });
}
