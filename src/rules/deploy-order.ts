// `harikube.info/deployOrder`, the older HariKube operator's ordering. Manifests
// written for it carry the annotation and no `spec.position`; they keep working:
// the annotation is the position when the spec gives none (the mutating webhook
// fills it in), and a malformed one is refused rather than silently ignored.
import { DEPLOY_ORDER_ANNOTATION } from '../resource/names.ts';
import { isRecord } from '../resource/json.ts';
import type { FieldError } from './field-errors.ts';
import { invalid } from './field-errors.ts';
import { MAX_POSITION } from './numbers.ts';

const FIELD = `metadata.annotations[${DEPLOY_ORDER_ANNOTATION}]`;
const DIGITS = /^[1-9][0-9]{0,9}$/;

function annotationOf(metadata: unknown): string | undefined {
  const annotations = isRecord(metadata) ? metadata.annotations : undefined;
  const value = isRecord(annotations) ? annotations[DEPLOY_ORDER_ANNOTATION] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The position the annotation gives, or undefined when it is absent or malformed. */
export function deployOrderOf(metadata: unknown): number | undefined {
  const value = annotationOf(metadata);
  if (value === undefined || !DIGITS.test(value)) return undefined;
  const order = Number(value);
  return order <= MAX_POSITION ? order : undefined;
}

export function validateDeployOrder(metadata: unknown): FieldError[] {
  const value = annotationOf(metadata);
  if (value === undefined || deployOrderOf(metadata) !== undefined) return [];
  return [
    invalid(
      FIELD,
      `must be an integer from 1 to ${MAX_POSITION} (the position, as the older HariKube operator read it; or remove it and set spec.position)`,
    ),
  ];
}

/** Both given and different: the spec wins, and the author should know the annotation is ignored. */
export function deployOrderWarnings(metadata: unknown, position: unknown): string[] {
  const order = deployOrderOf(metadata);
  if (order === undefined || typeof position !== 'number' || position === order) return [];
  return [
    `${FIELD}: ${order} is ignored: spec.position (${position}) sets the position; remove one of them`,
  ];
}
