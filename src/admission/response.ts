// Constructors of admission responses: the only place their shape is built.
import type { FieldError } from '../rules/field-errors.ts';
import { formatFieldError } from '../rules/field-errors.ts';
import { stringifyJson } from '../resource/json.ts';
import type { AdmissionResponse } from './review.ts';

export function allowed(uid: string, warnings: string[] = []): AdmissionResponse {
  return withWarnings({ uid, allowed: true }, warnings);
}

/** A denial listing every field error, in the form `kubectl` users know from built-in types. */
export interface Subject {
  group: string;
  kind: string;
  namespace?: string;
  name?: string;
}

export function invalid(
  uid: string,
  subject: Subject,
  errors: FieldError[],
  warnings: string[] = [],
): AdmissionResponse {
  const details = errors.map(formatFieldError);
  const label = `${subject.kind} "${subject.namespace ?? ''}/${subject.name || '(generated name)'}"`;
  const message =
    details.length === 1
      ? `${label} is invalid: ${details[0]}`
      : `${label} is invalid: [${details.join(', ')}]`;
  return withWarnings(
    {
      uid,
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message,
        // With name, group and kind kubectl prints `The TopologyConfig "x" is invalid:`
        // followed by one line per cause, as for built-in types.
        details: {
          name: subject.name ?? '',
          group: subject.group,
          kind: subject.kind,
          causes: errors.map((e) => ({
            reason: `Field${e.type}`,
            message: e.detail,
            field: e.field,
          })),
        },
      },
    },
    warnings,
  );
}

/** A denial for a request this webhook must not judge (wrong resource, undecodable object). */
export function denied(uid: string, code: 400 | 403, message: string): AdmissionResponse {
  return {
    uid,
    allowed: false,
    status: { code, reason: code === 400 ? 'BadRequest' : 'Forbidden', message },
  };
}

export function patched(uid: string, patch: unknown[], warnings: string[] = []): AdmissionResponse {
  if (patch.length === 0) return allowed(uid, warnings);
  return withWarnings(
    {
      uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(stringifyJson(patch)).toString('base64'),
    },
    warnings,
  );
}

function withWarnings(response: AdmissionResponse, warnings: string[]): AdmissionResponse {
  // The API server may truncate warnings over 256 characters; rules keep them short.
  return warnings.length > 0 ? { ...response, warnings } : response;
}
