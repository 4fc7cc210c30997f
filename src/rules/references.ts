// spec.targetSecret and spec.endpointDecryptSecret: well-formed namespace/name
// and within cluster policy. The operator can write Secrets cluster-wide, so
// without the policy a tenant could overwrite any Secret or read another
// team's keys.
import type { FieldError, FieldPath } from './field-errors.ts';
import { forbidden, invalid, quote, required } from './field-errors.ts';
import { namespacedNameProblem } from './formats.ts';
import { formatNamespacedName, parseNamespacedName } from '../resource/names.ts';
import type { Policy } from './policy.ts';
import { forbidsSecretRead, targetAllowed } from './policy.ts';
import { secretReference } from './tenancy.ts';

/** A Secret data key, as the API server allows it. */
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

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
  if (configNamespace && forbidsSecretRead(policy, configNamespace, ref.namespace)) {
    return [
      forbidden(
        path.path,
        `must be a Secret in this config's own namespace (${configNamespace}): the cluster policy forbids reading keys from other namespaces`,
      ),
    ];
  }
  return [];
}

/**
 * `secret://<namespace>/<name>/<key>` endpoints (HariKube reads the endpoint
 * from that Secret): the same namespace rule as spec.endpointDecryptSecret,
 * or a config could make the middleware read another team's credentials.
 */
export function validateSecretReferences(
  endpoints: readonly (string | undefined)[],
  configNamespace: string | undefined,
  policy: Policy,
): FieldError[] {
  return endpoints.flatMap((endpoint, i) => {
    if (endpoint === undefined || !endpoint.trim().startsWith('secret://')) return [];
    const field = `spec.backends[${i}].endpoint`;
    const ref = secretReference(endpoint);
    const problem = ref
      ? (namespacedNameProblem(formatNamespacedName(ref)) ??
        (SECRET_KEY.test(ref.key) ? undefined : 'the key is not a Secret data key'))
      : 'it has not three parts';
    // The reference names no credential, but a malformed one could hold anything: not quoted.
    if (problem) return [invalid(field, `must be secret://<namespace>/<name>/<key> (${problem})`)];
    if (!configNamespace || !forbidsSecretRead(policy, configNamespace, ref!.namespace)) return [];
    return [
      forbidden(
        field,
        `is a secret:// reference to a Secret in namespace ${ref!.namespace}; it must name a Secret in this config's own namespace (${configNamespace}): the cluster policy forbids reading credentials from other namespaces`,
      ),
    ];
  });
}
