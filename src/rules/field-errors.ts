// Field errors in the style of Kubernetes' field.ErrorList: each names the
// path of the offending field and says what is wrong, so that the message
// kubectl prints is one a person can act on.

export type FieldErrorType =
  'Required' | 'Invalid' | 'Forbidden' | 'Duplicate' | 'NotSupported' | 'TooLong';

export interface FieldError {
  type: FieldErrorType;
  /** Path of the field, e.g. `spec.backends[1].name`. */
  field: string;
  /** What is wrong, never containing an endpoint or a key. */
  detail: string;
  /**
   * Set on a refusal by the tenant routing policy (tenancy.ts): the
   * reconciler keeps an entry already in the Secret when only these fail
   * (a grant that shrinks never drops live routing).
   */
  policy?: true;
  /**
   * Set on an unsafe routing change (append-only.ts): the namespaces whose
   * routes or data it touches. The webhook admits it only for a user whom
   * RBAC allows to override in every one of them (admission/override.ts).
   */
  override?: readonly string[];
}

// Only name-like values are quoted back (printable ASCII without spaces, ':'
// or '@'; at most 253 characters): a free-form string in the wrong field (an
// endpoint or a credential pasted as a name) could hold a password.
const NAME_LIKE = /^[!-9;-?A-~]{1,253}$/;

/** A user's value as a reason may show it: quoted when name-like, otherwise not at all. */
export const quote = (value: unknown): string =>
  typeof value === 'string' && NAME_LIKE.test(value)
    ? JSON.stringify(value)
    : 'the value (not shown)';

/** Result of judging one object: errors reject it, warnings are shown but admit it. */
export interface Verdict {
  errors: FieldError[];
  warnings: string[];
}

export const required = (field: string, detail: string): FieldError => ({
  type: 'Required',
  field,
  detail,
});
export const invalid = (field: string, detail: string): FieldError => ({
  type: 'Invalid',
  field,
  detail,
});
export const forbidden = (field: string, detail: string): FieldError => ({
  type: 'Forbidden',
  field,
  detail,
});
export const duplicate = (field: string, detail: string): FieldError => ({
  type: 'Duplicate',
  field,
  detail,
});
export const tooLong = (field: string, detail: string): FieldError => ({
  type: 'TooLong',
  field,
  detail,
});

/** `field: detail`, the form kubectl users see. */
export function formatFieldError(error: FieldError): string {
  return `${error.field}: ${error.detail}`;
}

/** Builds child paths the way Kubernetes prints them: `spec.backends[1].name`. */
export class FieldPath {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  child(name: string): FieldPath {
    return new FieldPath(this.path ? `${this.path}.${name}` : name);
  }
  index(i: number): FieldPath {
    return new FieldPath(`${this.path}[${i}]`);
  }
  toString(): string {
    return this.path;
  }
}

export const root = (name: string): FieldPath => new FieldPath(name);
