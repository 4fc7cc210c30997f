// The one implementation of "do these two configs conflict, and why", used by
// the webhook (through ConfigIndex) and by the reconciler's merge alike: the
// conflict and overlap records, their reasons, and duplicates within a config.
// ConflictMaps (conflict-maps.ts) finds them between configs by map lookups.
import type { FieldError } from './field-errors.ts';
import { duplicate, quote } from './field-errors.ts';
import type { ConfigFacts } from './facts.ts';

export type ConflictKind = 'name' | 'endpoint' | 'position' | 'selector';

export interface Conflict {
  kind: ConflictKind;
  /** Field path in the judged config. */
  field: string;
  other: ConfigFacts;
  /** Field path in the other config. */
  otherField: string;
  /** The shared backend name (name conflicts only). */
  name?: string;
}

export interface Overlap {
  field: string;
  /** The judged config's backend index. */
  backend: number;
  other: ConfigFacts;
  otherField: string;
  /** Whether the other config is matched first (lower in the ordering). */
  otherWins: boolean;
  /** 'yes': both take some keys (`shown` is an example); 'unknown': a regexp the model cannot decide. */
  verdict: 'yes' | 'unknown';
  shown?: string;
}

export const backendPath = (i: number) => `spec.backends[${i}]`;

function describe(other: ConfigFacts, selfTarget: string | undefined): string {
  const where = other.target !== selfTarget && other.target ? `, target ${other.target}` : '';
  return `${other.key} (position ${other.position ?? 'unset'}${where})`;
}

/** The field error for a conflict: names the field and the other object, never an endpoint. */
export function conflictError(conflict: Conflict, self: ConfigFacts): FieldError {
  const other = describe(conflict.other, self.target);
  switch (conflict.kind) {
    case 'name':
      return duplicate(conflict.field, `${quote(conflict.name)} is already used by ${other}`);
    case 'endpoint':
      return duplicate(
        conflict.field,
        `points at the same database as ${conflict.other.key} ${conflict.otherField} (position ${conflict.other.position ?? 'unset'}): every backend of a target Secret needs its own database`,
      );
    case 'position':
      return duplicate(
        conflict.field,
        `${self.position} is already taken by ${other} in ${self.target}: omit spec.position to get the next free one`,
      );
    case 'selector':
      return duplicate(
        conflict.field,
        `the same selector as ${conflict.other.key} ${conflict.otherField} (position ${conflict.other.position ?? 'unset'}): only the first of the two would ever receive data`,
      );
  }
}

/** A position the product assigned that another config holds too: the reconciler moves this one. */
export function assignedPositionWarning(conflict: Conflict, self: ConfigFacts): string {
  return `${conflict.field}: ${self.position} was assigned (no position was given) and is also taken by ${describe(conflict.other, self.target)} in ${self.target}; the reconciler moves this config to the next free position`;
}

/** The warning for an overlap, short enough for kubectl (the API server may cut warnings at 256 characters). */
export function overlapWarning(overlap: Overlap): string {
  const other = `${overlap.other.key} ${overlap.otherField} (position ${overlap.other.position ?? 'unset'})`;
  const winner = overlap.otherWins
    ? `${overlap.other.key} is matched first`
    : 'this config is matched first';
  if (overlap.verdict === 'unknown')
    return `${overlap.field} may overlap ${other} (a regular expression this check cannot decide); ${winner} where both match`;
  return `${overlap.field} overlaps ${other}; ${winner} where both match`;
}

/** Conflicts between backends of one config: names and selectors (static), endpoints (once decrypted). */
export function duplicatesWithin(
  facts: ConfigFacts,
  kinds: readonly ('name' | 'selector' | 'endpoint')[],
): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Map<string, string>();
  const note = (key: string, field: string, detail: (first: string) => string) => {
    const first = seen.get(key);
    if (first === undefined) seen.set(key, field);
    else errors.push(duplicate(field, detail(first)));
  };
  for (const b of facts.backends) {
    if (kinds.includes('name') && b.name) {
      note(
        `n${b.name}`,
        `${backendPath(b.index)}.name`,
        (f) => `${quote(b.name)} is also the name of ${f.slice(0, -'.name'.length)}`,
      );
    }
    if (kinds.includes('endpoint') && b.databaseHash) {
      note(
        `e${b.databaseHash}`,
        `${backendPath(b.index)}.endpoint`,
        (f) =>
          `points at the same database as ${f.slice(0, -'.endpoint'.length)}: every backend needs its own database`,
      );
    }
    if (kinds.includes('selector')) {
      for (const s of b.selectors) {
        note(
          `s${s.canonical}`,
          `${backendPath(b.index)}.${s.field}`,
          (f) => `the same selector as ${f}: only the first would ever receive data`,
        );
      }
    }
  }
  return errors;
}
