// The CRD's OpenAPI schema, checked with Ajv compiled once at module load from
// the one schema module. Ajv's errors become Kubernetes-style field errors.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import {
  API_VERSION,
  GO_DURATION_PATTERN,
  KIND,
  topologyConfigSchema,
} from '../resource/schema.ts';
import type { FieldError } from './field-errors.ts';
import { invalid, required } from './field-errors.ts';
import { withNumbers } from '../resource/json.ts';

function compile() {
  // strict: an unknown keyword in the schema module is a bug to see at once.
  // No useDefaults/coerceTypes: validation must never change the object.
  // strictTypes off: the int-or-string durations carry a `pattern` beside their
  // anyOf (the only form a structural schema allows), which applies to strings alone.
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    useDefaults: false,
    coerceTypes: false,
  });
  // The CRD's int64/duration formats annotate integers; the range and
  // precision rules (numbers.ts) judge those values with reasons of their own.
  ajv.addFormat('int64', { type: 'number', validate: () => true });
  ajv.addFormat('duration', { type: 'number', validate: () => true });
  // Condition times are written by the reconciler and checked by the API server.
  ajv.addFormat('date-time', { type: 'string', validate: () => true });
  for (const keyword of [
    'x-kubernetes-validations',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-embedded-resource',
  ]) {
    ajv.addKeyword({ keyword, schemaType: ['array', 'boolean', 'string', 'object'] });
  }
  return ajv.compile(topologyConfigSchema);
}

const validate = compile();

/** `/spec/backends/0/name` → `spec.backends[0].name`. */
export function fieldPathOf(instancePath: string): string {
  let path = '';
  for (const raw of instancePath.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^(0|[1-9][0-9]*)$/.test(segment)) path += `[${segment}]`;
    else path += path ? `.${segment}` : segment;
  }
  return path;
}

function childPath(parent: string, name: string): string {
  return parent ? `${parent}.${name}` : name;
}

const DURATION_FORMS =
  'must be a non-negative integer number of nanoseconds or a Go duration string: numbers with units ns, us, µs, ms, s, m, h, such as 5m, 1h30m or 300ms';

/** An anyOf failure is reported once, not once per alternative that did not match. */
const insideAnyOf = (error: ErrorObject): boolean => error.schemaPath.includes('/anyOf/');

function toFieldError(error: ErrorObject): FieldError {
  const path = fieldPathOf(error.instancePath);
  switch (error.keyword) {
    case 'required': {
      const missing = String((error.params as { missingProperty: string }).missingProperty);
      return required(childPath(path, missing), 'Required value');
    }
    case 'type':
      return invalid(path, `must be of type ${String((error.params as { type: string }).type)}`);
    case 'minItems':
      return required(
        path,
        `Required value: must have at least ${String((error.params as { limit: number }).limit)} item(s)`,
      );
    case 'minimum':
      return invalid(
        path,
        `must be greater than or equal to ${String((error.params as { limit: number }).limit)}`,
      );
    case 'anyOf':
      // The durations are the schema's only anyOf (int-or-string).
      return invalid(path, DURATION_FORMS);
    case 'pattern':
      if ((error.params as { pattern: string }).pattern === GO_DURATION_PATTERN) {
        return invalid(path, DURATION_FORMS);
      }
      return invalid(path, error.message ?? 'does not match the pattern');
    default:
      return invalid(path, error.message ?? `fails the schema's ${error.keyword} rule`);
  }
}

/** The CRD schema plus kind/apiVersion; every violation, one field error each. */
export function validateSchema(obj: unknown): FieldError[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return [invalid('', `must be a ${KIND} object`)];
  }
  // Ajv knows no bigint: an integer beyond 2^53 - 1 is checked as the nearest
  // number here (type, minimum); numbers.ts judges its exact value.
  const errors = validate(withNumbers(obj))
    ? []
    : (validate.errors ?? []).filter((e) => !insideAnyOf(e)).map(toFieldError);
  const { kind, apiVersion, spec } = obj as {
    kind?: unknown;
    apiVersion?: unknown;
    spec?: unknown;
  };
  // The CRD does not require spec (the seed's schema), but nothing routes without one.
  if (spec === undefined) errors.push(required('spec', 'Required value'));
  if (typeof kind === 'string' && kind !== KIND) errors.push(invalid('kind', `must be ${KIND}`));
  if (kind === undefined) errors.push(required('kind', `Required value: must be ${KIND}`));
  if (typeof apiVersion === 'string' && apiVersion !== API_VERSION) {
    errors.push(invalid('apiVersion', `must be ${API_VERSION}`));
  }
  if (apiVersion === undefined) {
    errors.push(required('apiVersion', `Required value: must be ${API_VERSION}`));
  }
  return errors;
}
