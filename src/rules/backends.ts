// Backend names and endpoints, and the per-backend dispatch of the other rules.
import type { FieldError, FieldPath } from './field-errors.ts';
import { invalid, quote, required } from './field-errors.ts';
import { dns1123SubdomainProblem } from './formats.ts';
import { connectionPoolWarnings, validateConnectionPool } from './numbers.ts';
import { validateSelectors } from './selectors.ts';
import { isRecord } from '../resource/json.ts';

/**
 * A backend name is a DNS-1123 subdomain (lower case letters, digits, '-'
 * and '.', at most 253 characters), the format of Kubernetes object names:
 * names are cluster-wide identifiers that appear in logs, events and reasons,
 * so they must be printable and unambiguous (HariKube's own examples, such as
 * `kube-system` and `shirts`, fit it).
 */
export function validateBackendName(name: unknown, path: FieldPath): FieldError[] {
  if (typeof name !== 'string') return [];
  if (name === '')
    return [required(path.path, 'Required value: a cluster-wide unique backend name')];
  const problem = dns1123SubdomainProblem(name);
  return problem ? [invalid(path.path, `${quote(name)} ${problem}`)] : [];
}

export function validateEndpoint(endpoint: unknown, path: FieldPath): FieldError[] {
  if (typeof endpoint !== 'string') return [];
  return endpoint.trim() === ''
    ? [
        required(
          path.path,
          'Required value: the database connection string (or its encrypted form)',
        ),
      ]
    : [];
}

/** The rules of one backend that need nothing but the backend itself. */
export function validateBackend(backend: unknown, path: FieldPath): FieldError[] {
  if (!isRecord(backend)) return [];
  return [
    ...validateBackendName(backend.name, path.child('name')),
    ...validateEndpoint(backend.endpoint, path.child('endpoint')),
    ...validateConnectionPool(backend.connectionPool, path.child('connectionPool')),
    ...validateSelectors(backend, path),
  ];
}

export function backendWarnings(backend: unknown, path: FieldPath): string[] {
  if (!isRecord(backend)) return [];
  return connectionPoolWarnings(backend.connectionPool, path.child('connectionPool'));
}
