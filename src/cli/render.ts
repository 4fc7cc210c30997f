// `topology render`: the Secrets the reconciler would write for the configs
// that admission accepts, and the configs that would end in Error.
//
// The Secret is printed with `stringData` so that a person (or a diff in a
// pull request) can read it; the API server turns it into `data` holding
// exactly these bytes, which is what the reconciler writes.

import { stringify } from 'yaml';
import { parseNamespacedName, formatNamespacedName } from '../resource/names.ts';
import { mergeAll, type MergeResult } from '../reconcile/merge.ts';
import type { Policy } from '../rules/policy.ts';
import { managedSecret } from '../secret-format/secret.ts';
import type { Admission } from './validate.ts';

export interface Rendered {
  /** One YAML document per target Secret that would hold data, in target order. */
  secrets: object[];
  /** `<file>: <namespace>/<name>: error: <reason>` per config that would end in Error. */
  errors: string[];
}

/** Merges the configs admission accepted, as the reconciler would. */
export function renderAdmitted(admission: Admission, policy: Policy): Rendered {
  const results = mergeAll(admission.configs, admission.view, policy);
  const fileOf = new Map(
    admission.judged.map((j) => [formatNamespacedName(j.source), j.source.file]),
  );
  const targets = [...results.keys()].sort();
  const secrets: object[] = [];
  const errors: string[] = [];
  for (const target of targets) {
    const result: MergeResult = results.get(target)!;
    if (result.targetAllowed && Object.keys(result.data).length > 0) {
      const ref = parseNamespacedName(target) ?? { namespace: '', name: target };
      secrets.push(managedSecret(ref, result.data, 'stringData'));
    }
    for (const [key, outcome] of [...result.outcomes].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (outcome.state === 'Error') {
        errors.push(`${fileOf.get(key) ?? '?'}: ${key}: error: ${outcome.reason}`);
      }
    }
  }
  return { secrets, errors };
}

/** Multi-document YAML; multi-line values as literal blocks, never folded. */
export function toYaml(documents: readonly object[]): string {
  return documents.map((doc) => stringify(doc, { lineWidth: 0, indentSeq: false })).join('---\n');
}
