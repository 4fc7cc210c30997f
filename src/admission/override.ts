// The override of an unsafe routing change, authorised for each change: the
// annotation says "I mean it", RBAC says who may. A SubjectAccessReview with
// the request's own userInfo must allow the verb `override` on
// topologyconfigs.harikube.info in every namespace whose routes or data the
// change touches, so an annotation left on an object grants nothing to the
// next editor, and a tenant cannot authorise itself by writing it.
import { GROUP, PLURAL } from '../resource/schema.ts';
import { ALLOW_ROUTING_CHANGE_ANNOTATION } from '../resource/names.ts';
import type { FieldError, Verdict } from '../rules/field-errors.ts';
import type { AdmissionRequest } from './review.ts';
import { overrideNamespaces } from '../rules/append-only.ts';

export const OVERRIDE_VERB = 'override';

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AccessDecision {
  allowed: boolean;
  /** The authorizer's own words, when it gives any. */
  reason?: string;
}

/** Whether `user` may `override` topologyconfigs in `namespace` (a SubjectAccessReview). */
export type OverrideAuthorizer = (user: UserInfo, namespace: string) => Promise<AccessDecision>;

/** The body of that SubjectAccessReview. */
export function overrideAccessReview(user: UserInfo, namespace: string) {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: user.username ?? '',
      ...(user.uid !== undefined ? { uid: user.uid } : {}),
      ...(user.groups !== undefined ? { groups: user.groups } : {}),
      ...(user.extra !== undefined ? { extra: user.extra } : {}),
      resourceAttributes: { namespace, verb: OVERRIDE_VERB, group: GROUP, resource: PLURAL },
    },
  };
}

/**
 * The verdict once the override is considered: unchanged unless every error
 * is an unsafe change an authorised user may override, the request asks for
 * the override, and the requester is allowed in every touched namespace.
 * Without an authorizer (offline), an override is never honoured.
 */
export async function judgeOverride(
  request: AdmissionRequest,
  verdict: Verdict,
  requested: boolean,
  authorize: OverrideAuthorizer | undefined,
): Promise<Verdict> {
  const namespaces = overrideNamespaces(verdict, requested);
  if (!namespaces || !authorize) return verdict;
  const unsafe = verdict.errors;
  const user: UserInfo = request.userInfo ?? {};
  const who = JSON.stringify(user.username ?? '');
  const decisions = await Promise.all(namespaces.map((ns) => authorize(user, ns)));
  const denied = namespaces.filter((_, i) => !decisions[i]!.allowed);
  if (denied.length === 0) {
    return {
      errors: [],
      warnings: [
        ...verdict.warnings,
        `unsafe routing change admitted under ${ALLOW_ROUTING_CHANGE_ANNOTATION} for user ${who}, authorised to ${OVERRIDE_VERB} in namespace ${namespaces.join(', ')}: ${unsafe.map((e) => e.field).join(', ')}`,
      ],
    };
  }
  const refusal: FieldError = {
    type: 'Forbidden',
    field: `metadata.annotations[${ALLOW_ROUTING_CHANGE_ANNOTATION}]`,
    detail: `the override is not authorised for user ${who}: RBAC does not allow the verb "${OVERRIDE_VERB}" on ${PLURAL}.${GROUP} in namespace ${denied.join(', ')} (the platform team binds ClusterRole topologyconfig-routing-override there); the annotation grants nothing by itself`,
  };
  return { errors: [...verdict.errors, refusal], warnings: verdict.warnings };
}
