// spec.targetSecret and spec.endpointDecryptSecret: well-formed namespace/name
// and within cluster policy. The operator can write Secrets cluster-wide, so
// without the policy a tenant could overwrite any Secret or read another
// team's keys.
import type { FieldError, FieldPath } from './field-errors.ts';
import { forbidden, invalid, quote, required } from './field-errors.ts';
import { namespacedNameProblem } from './formats.ts';
import { parseNamespacedName } from '../resource/names.ts';
import type { Policy } from './policy.ts';
import { targetAllowed } from './policy.ts';

export function validateTargetSecret(
  value: unknown,
  path: FieldPath,
  policy: Policy,
): FieldError[] {
  if (typeof value !== 'string') return [];
  if (value === '')
    return [required(path.path, 'Required value: namespace/name of the merged Secret')];
  const problem = namespacedNameProblem(value);
  if (problem) return [invalid(path.path, `${quote(value)} ${problem}`)];
  if (!targetAllowed(parseNamespacedName(value)!, policy)) {
    const allowed = policy.allowedTargetSecrets.join(', ') || '(none)';
    return [
      forbidden(
        path.path,
        `${quote(value)} is not allowed by the cluster policy; allowed target Secrets: ${allowed}`,
      ),
    ];
  }
  return [];
}

export function validateDecryptSecret(
  value: unknown,
  path: FieldPath,
  configNamespace: string | undefined,
  policy: Policy,
): FieldError[] {
  if (typeof value !== 'string' || value === '') return [];
  const problem = namespacedNameProblem(value);
  if (problem) return [invalid(path.path, `${quote(value)} ${problem}`)];
  const ref = parseNamespacedName(value)!;
  if (
    !policy.allowCrossNamespaceDecryptSecret &&
    configNamespace &&
    ref.namespace !== configNamespace
  ) {
    return [
      forbidden(
        path.path,
        `must be a Secret in this config's own namespace (${configNamespace}): the cluster policy forbids reading keys from other namespaces`,
      ),
    ];
  }
  return [];
}
