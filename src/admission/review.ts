// AdmissionReview (admission.k8s.io/v1) decoding and encoding: transport
// shapes only, no policy. A request that cannot be answered with its own uid
// is a client error (4xx); everything else is answered with a review.

import { isRecord } from '../resource/json.ts';

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; groups?: string[] };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: {
    code: number;
    reason: string;
    message: string;
    details?: { name: string; group: string; kind: string; causes: StatusCause[] };
  };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export class BadReviewError extends Error {
  readonly statusCode = 400;
}

const OPERATIONS = new Set<string>(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Checks the envelope and returns its request; throws BadReviewError with the reason. */
export function decodeReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new BadReviewError('body must be a JSON AdmissionReview object');
  if (body.kind !== 'AdmissionReview') throw new BadReviewError('kind must be AdmissionReview');
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    throw new BadReviewError(
      'apiVersion must be admission.k8s.io/v1 (set admissionReviewVersions: [v1])',
    );
  }
  const request = body.request;
  if (!isRecord(request)) throw new BadReviewError('request is missing');
  if (typeof request.uid !== 'string' || request.uid === '') {
    throw new BadReviewError('request.uid is missing');
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.has(request.operation)) {
    throw new BadReviewError('request.operation must be CREATE, UPDATE, DELETE or CONNECT');
  }
  if (!isRecord(request.kind) || !isRecord(request.resource)) {
    throw new BadReviewError('request.kind and request.resource are required');
  }
  return request as unknown as AdmissionRequest;
}

export function encodeReview(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
