// Admission decisions for TopologyConfigs: plain functions from an
// AdmissionRequest to an AdmissionResponse, independent of HTTP.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fastJsonPatch from 'fast-json-patch';
import { GROUP, KIND, PLURAL, VERSION } from '../resource/schema.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { validateBounds } from '../rules/bounds.ts';
import { defaultConfig } from '../rules/defaults.ts';
import { validateDeployOrder } from '../rules/deploy-order.ts';
import {
  validateAnnotationUpdate,
  validateCreate,
  validateDelete,
  validateUpdate,
} from '../rules/index.ts';
import type { Policy } from '../rules/policy.ts';
import type { ConfigView } from '../rules/view.ts';
import type { Verdict } from '../rules/field-errors.ts';
import type { AdmissionRequest, AdmissionResponse } from './review.ts';
import { allowed, denied, invalid, patched } from './response.ts';
import { hasBigInt, isRecord, mapLeaves } from '../resource/json.ts';
import type { ExistingDataVerdict } from './existing-data.ts';
import { requestsOverride, touchedNamespaces } from '../rules/append-only.ts';
import { judgeOverride, type OverrideAuthorizer } from './override.ts';

export interface AdmissionContext {
  view: ConfigView;
  policy: Policy;
  /** Counts the objects that new or changed routes would take (existing-data.ts); absent: not checked. */
  existingData?: (
    config: TopologyConfig,
    old: TopologyConfig | undefined,
  ) => Promise<ExistingDataVerdict>;
  /** Asks RBAC whether a user may override an unsafe routing change; without it, none is honoured. */
  authorizeOverride?: OverrideAuthorizer;
}

export type AdmissionHandler = (
  request: AdmissionRequest,
  context: AdmissionContext,
) => AdmissionResponse | Promise<AdmissionResponse>;

/** The webhook configurations route only this resource here; anything else is a misconfiguration. */
function wrongResource(request: AdmissionRequest): AdmissionResponse | undefined {
  const { group, version, resource } = request.resource;
  if (group === GROUP && version === VERSION && resource === PLURAL) return undefined;
  return denied(
    request.uid,
    400,
    `this webhook only judges ${PLURAL}.${GROUP}/${VERSION}, not ${resource}.${group}/${version}: fix the webhook configuration's rules`,
  );
}

const subjectOf = (request: AdmissionRequest) => ({
  group: GROUP,
  kind: KIND,
  namespace: request.namespace,
  name: request.name,
});

function decide(request: AdmissionRequest, verdict: Verdict): AdmissionResponse {
  return verdict.errors.length === 0
    ? allowed(request.uid, verdict.warnings)
    : invalid(request.uid, subjectOf(request), verdict.errors, verdict.warnings);
}

export const validateTopologyConfig: AdmissionHandler = (request, context) => {
  const { view, policy } = context;
  const misrouted = wrongResource(request);
  if (misrouted) return misrouted;
  // Status and other subresources carry no routing: they are the reconciler's.
  if (request.subResource) return allowed(request.uid);
  // The override is asked for by the object the request leaves (or deletes),
  // and honoured only for this request's user (override.ts).
  const judged = (
    verdict: Verdict,
    asking: unknown,
  ): AdmissionResponse | Promise<AdmissionResponse> => {
    if (!verdict.errors.some((e) => e.override)) return decide(request, verdict);
    const requested = requestsOverride(asking as TopologyConfig | undefined);
    return judgeOverride(request, verdict, requested, context.authorizeOverride).then((v) =>
      decide(request, v),
    );
  };
  switch (request.operation) {
    case 'CREATE':
      return judged(validateCreate(request.object, view, policy), request.object);
    case 'UPDATE': {
      if (!isRecord(request.oldObject))
        return denied(request.uid, 400, 'request.oldObject is missing');
      const old = request.oldObject as unknown as TopologyConfig;
      // Housekeeping (finalizers, labels) leaves spec and annotations as
      // they were; judging them again could only block it (the reconciler's
      // finalizer, on a config a shrunk grant refuses). An update of the
      // annotations alone is judged by the rules of change.
      if (isRecord(request.object) && isDeepStrictEqual(request.object.spec, old.spec)) {
        if (isDeepStrictEqual(annotationsOf(request.object), annotationsOf(old)))
          return allowed(request.uid);
        const object = request.object as unknown as TopologyConfig;
        return judged(validateAnnotationUpdate(object, old, view, policy), object);
      }
      return judged(validateUpdate(request.object, old, view, policy), request.object);
    }
    case 'DELETE': {
      if (!isRecord(request.oldObject)) return allowed(request.uid);
      const old = request.oldObject as unknown as TopologyConfig;
      return judged(validateDelete(old, view, policy), old);
    }
    default:
      return allowed(request.uid);
  }
};

const annotationsOf = (object: unknown): unknown =>
  isRecord(object) && isRecord(object.metadata) ? (object.metadata.annotations ?? {}) : {};

// Synchronous: defaulting asks no one.
export const mutateTopologyConfig = (
  request: AdmissionRequest,
  { view, policy }: AdmissionContext,
): AdmissionResponse => {
  const misrouted = wrongResource(request);
  if (misrouted) return misrouted;
  if (request.subResource || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return allowed(request.uid);
  }
  // A shape the defaulter cannot read is left alone: validation rejects it with reasons.
  if (
    !isRecord(request.object) ||
    !isRecord(request.object.spec) ||
    !isRecord(request.object.metadata)
  ) {
    return allowed(request.uid);
  }
  // Nor is a config over a bound: defaulting and diffing it would cost what the bounds prevent.
  if (validateBounds(request.object).length > 0) return allowed(request.uid);
  const object = request.object as unknown as TopologyConfig;
  const old = isRecord(request.oldObject)
    ? (request.oldObject as unknown as TopologyConfig)
    : undefined;
  const defaulted = defaultConfig(object, view, policy, old);
  // A position the defaulter could not fill from a malformed deployOrder is refused here,
  // with that reason: the API server's schema check (position Required) would come
  // before the validating webhook and never say why.
  if (defaulted.spec.position === undefined) {
    const order = validateDeployOrder(object.metadata);
    if (order.length > 0) return invalid(request.uid, subjectOf(request), order, []);
  }
  return patched(request.uid, jsonPatch(object, defaulted));
};

/**
 * fastJsonPatch.compare for objects that may hold bigints (integers beyond
 * 2^53, which the review's parser keeps exact): it clones added values
 * through JSON.stringify, which throws on a bigint, so a review copying one
 * (an UPDATE keeping an old field) was answered 500. Bigints are diffed as
 * marker strings no input can hold (a random nonce) and put back in the patch.
 */
function jsonPatch(from: unknown, to: unknown): fastJsonPatch.Operation[] {
  if (!hasBigInt(from) && !hasBigInt(to))
    return fastJsonPatch.compare(from as object, to as object);
  const mark = `\u0000bigint-${randomUUID()}:`;
  const hide = (v: unknown) => (typeof v === 'bigint' ? `${mark}${v}` : v);
  const show = (v: unknown) =>
    typeof v === 'string' && v.startsWith(mark) ? BigInt(v.slice(mark.length)) : v;
  return fastJsonPatch
    .compare(mapLeaves(from, hide) as object, mapLeaves(to, hide) as object)
    .map((op) => ('value' in op ? { ...op, value: mapLeaves(op.value, show) } : op));
}

/**
 * The second, asynchronous stage of validation: a CREATE or UPDATE that the
 * rules allowed and that adds or changes routes is refused when those routes
 * would take objects that already exist, unless the change carries the
 * override annotation.
 */
export async function validateExistingData(
  request: AdmissionRequest,
  response: AdmissionResponse,
  context: AdmissionContext,
): Promise<AdmissionResponse> {
  if (!response.allowed || !context.existingData || request.subResource) return response;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return response;
  if (!isRecord(request.object) || !isRecord(request.object.spec)) return response;
  const config = request.object as unknown as TopologyConfig;
  const old =
    request.operation === 'UPDATE' && isRecord(request.oldObject)
      ? (request.oldObject as unknown as TopologyConfig)
      : undefined;
  if (old && isDeepStrictEqual(config.spec, old.spec)) return response;
  const verdict = await context.existingData(config, old);
  if (verdict.state === 'refused') {
    // Stranding existing objects is an unsafe change: overridable only by a
    // user RBAC allows in the namespaces the routes touch (override.ts).
    const namespaces = touchedNamespaces(config);
    const unsafe = {
      errors: verdict.errors.map((e) => ({ ...e, override: namespaces })),
      warnings: response.warnings ?? [],
    };
    const judged = await judgeOverride(
      request,
      unsafe,
      requestsOverride(config),
      context.authorizeOverride,
    );
    return judged.errors.length > 0
      ? invalid(request.uid, subjectOf(request), judged.errors, judged.warnings)
      : allowed(request.uid, judged.warnings);
  }
  if (verdict.notes.length === 0) return response;
  return allowed(request.uid, [...(response.warnings ?? []), ...verdict.notes]);
}
