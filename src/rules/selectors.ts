// Routing selectors: every backend routes something, and every selector is
// complete. Regular expressions must compile in RE2 syntax (re2js is a port
// of RE2), the dialect of the Go middleware: a look-ahead or a back-reference
// that JavaScript would accept is rejected here, as Go would reject it.
import { RE2JS } from 're2js';
import type { FieldError, FieldPath } from './field-errors.ts';
import { invalid, quote, required } from './field-errors.ts';
import { dns1123LabelProblem, dns1123SubdomainProblem } from './formats.ts';
import { SELECTOR_FIELDS } from './facts.ts';
import { isRecord } from '../resource/json.ts';
import { memoizeString } from './memo.ts';

export function validateCustomResourceSelector(
  value: Record<string, unknown>,
  path: FieldPath,
): FieldError[] {
  const group = value.group;
  if (typeof group !== 'string' || group === '') {
    return [
      required(
        path.child('group').path,
        'Required value: the API group of the custom resources to route',
      ),
    ];
  }
  const problem = dns1123SubdomainProblem(group);
  // An empty kind is allowed: it routes the whole group.
  return problem ? [invalid(path.child('group').path, `${quote(group)} ${problem}`)] : [];
}

export function validateNamespaceSelector(
  value: Record<string, unknown>,
  path: FieldPath,
): FieldError[] {
  const errors: FieldError[] = [];
  const namespace = value.namespace;
  if (typeof namespace !== 'string' || namespace === '') {
    errors.push(required(path.child('namespace').path, 'Required value: the namespace to route'));
  } else {
    const problem = dns1123LabelProblem(namespace);
    if (problem)
      errors.push(invalid(path.child('namespace').path, `${quote(namespace)} ${problem}`));
  }
  if (Array.isArray(value.kinds)) {
    value.kinds.forEach((kind, i) => {
      if (kind === '') errors.push(invalid(path.child('kinds').index(i).path, 'must not be empty'));
    });
  }
  return errors;
}

export function validatePrefixSelector(
  value: Record<string, unknown>,
  path: FieldPath,
): FieldError[] {
  const prefix = value.prefix;
  const field = path.child('prefix').path;
  if (typeof prefix !== 'string' || prefix === '')
    return [required(field, 'Required value: the etcd key prefix to route')];
  // Both forms HariKube users write: relative to the registry root (`pods`) or absolute (`/registry/pods/`).
  if (/[\s\p{Cc}]/u.test(prefix))
    return [
      invalid(
        field,
        'must not contain whitespace or control characters (storage keys have none); write it relative to the registry root, as in "pods", or absolute, as in "/registry/pods/"',
      ),
    ];
  return [];
}

/** The RE2 syntax error of `pattern`, or undefined when it compiles. */
export const re2Problem = memoizeString(
  (pattern: string): string | undefined => {
    try {
      RE2JS.compile(pattern);
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  },
  { maxEntries: 1024, maxInputLength: 1024 },
);

export function validateRegexpSelector(
  value: Record<string, unknown>,
  path: FieldPath,
): FieldError[] {
  const errors: FieldError[] = [];
  let any = false;
  for (const part of ['prefix', 'key'] as const) {
    const pattern = value[part];
    if (typeof pattern !== 'string' || pattern === '') continue;
    any = true;
    const problem = re2Problem(pattern);
    if (problem) {
      errors.push(
        invalid(
          path.child(part).path,
          `does not compile as an RE2 (Go) regular expression: ${problem}`,
        ),
      );
    }
  }
  if (!any) errors.push(required(path.path, 'Required value: at least one of prefix or key'));
  return errors;
}

const validators = {
  customresource: validateCustomResourceSelector,
  namespace: validateNamespaceSelector,
  prefix: validatePrefixSelector,
  regexp: validateRegexpSelector,
};

/** At least one selector per backend, each complete. */
export function validateSelectors(backend: Record<string, unknown>, path: FieldPath): FieldError[] {
  const present = SELECTOR_FIELDS.filter((field) => isRecord(backend[field]));
  if (present.length === 0) {
    return [
      required(
        path.path,
        'Required value: at least one routing selector (customresource, namespace, prefix or regexp); without one the backend receives nothing',
      ),
    ];
  }
  return present.flatMap((field) =>
    validators[field](backend[field] as Record<string, unknown>, path.child(field)),
  );
}
