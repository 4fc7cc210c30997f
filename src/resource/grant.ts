// The TopologyRoutingGrant API: what the platform team lets one tenant
// namespace route (or, marked default, every tenant namespace without a grant
// of its own). Cluster-scoped, so that a tenant who administers its own
// namespace cannot write it; bound to the namespace's uid, so that a grant
// does not pass to a namespace deleted and created again under the same name.
import type { FromSchema } from 'json-schema-to-ts';
import { GROUP, VERSION } from './schema.ts';

export const GRANT_KIND = 'TopologyRoutingGrant';
export const GRANT_PLURAL = 'topologyroutinggrants';
export const GRANT_CRD_NAME = `${GRANT_PLURAL}.${GROUP}`;

/** Written in a grant's patterns, stands for the namespace of the config being judged. */
export const OWN_NAMESPACE = '<namespace>';

const stringList = (description: string) =>
  ({ description, type: 'array', items: { type: 'string', minLength: 1 } }) as const;

export const grantSpecSchema = {
  description:
    'What TopologyConfigs in one tenant namespace (or, with default, in every tenant namespace without a grant of its own) may route. "<namespace>" in any pattern stands for the namespace of the config.',
  type: 'object',
  required: ['positions'],
  properties: {
    default: {
      description:
        'The cluster-wide default: applies to every tenant namespace that has no grant of its own (several defaults add up, like several grants of one namespace).',
      type: 'boolean',
    },
    namespace: {
      description: 'The tenant namespace this grant is for (not with default).',
      type: 'string',
    },
    namespaceUID: {
      description:
        'metadata.uid of that namespace: the grant applies only while the namespace is this very object (kubectl get namespace NS -o jsonpath={.metadata.uid}).',
      type: 'string',
    },
    groups: stringList(
      'API groups a customresource selector may route: "group" (any kind of it, or the whole group), "group/kind" (that kind only), or "*.suffix" (any group ending in .suffix).',
    ),
    kinds: stringList(
      'Resources (plural, as in namespace.kinds) a namespace selector may route: "*" is every kind that is not security-sensitive; security-sensitive kinds (pods, secrets, serviceaccounts, roles, rolebindings, …) only by name.',
    ),
    namespaces: stringList(
      'Namespaces a namespace selector may name ("<namespace>": the config\'s own).',
    ),
    prefixes: stringList(
      'Key prefixes a prefix selector must lie within (relative to the registry root, e.g. "configmaps/<namespace>/", or absolute, "/registry/…").',
    ),
    regexps: {
      description:
        'regexp selectors allowed exactly as written (a regular expression cannot be checked against the other rules, so it is approved one by one).',
      type: 'array',
      items: {
        type: 'object',
        properties: { prefix: { type: 'string' }, key: { type: 'string' } },
      },
    },
    endpoints: {
      description:
        'Where the routed data may be stored. A file-path endpoint (sqlite://, unix://, unix(…)) and backendTLS files are allowed only from platform namespaces, whatever this says.',
      type: 'object',
      properties: {
        schemes: stringList(
          'Endpoint schemes allowed (e.g. mysql, postgres, https); empty: any network scheme. "secret" allows secret://<namespace>/<name>/<key> references, whose database cannot be checked here.',
        ),
        hosts: stringList(
          'Hosts an endpoint may point at: exact names, or "*.suffix" (e.g. "*.<namespace>.svc", "*.<namespace>.svc.cluster.local").',
        ),
      },
    },
    positions: {
      description:
        "The band of spec.position the tenant's configs must stay in, so that no tenant squats the first or the last place of a target.",
      type: 'object',
      required: ['min', 'max'],
      properties: {
        min: { type: 'integer', minimum: 1 },
        max: { type: 'integer', minimum: 1 },
      },
    },
  },
} as const;

export type RoutingGrantSpec = FromSchema<typeof grantSpecSchema>;

export interface RoutingGrant {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; uid?: string; resourceVersion?: string };
  spec?: RoutingGrantSpec;
}

/** The CustomResourceDefinition of the grants, as it is written to deploy/crd/. */
export function grantCustomResourceDefinition() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: GRANT_CRD_NAME },
    spec: {
      group: GROUP,
      names: {
        kind: GRANT_KIND,
        listKind: `${GRANT_KIND}List`,
        plural: GRANT_PLURAL,
        singular: 'topologyroutinggrant',
        shortNames: ['trg'],
      },
      scope: 'Cluster',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: [
            { jsonPath: '.spec.namespace', name: 'Namespace', type: 'string' },
            { jsonPath: '.spec.default', name: 'Default', type: 'boolean' },
            { jsonPath: '.metadata.creationTimestamp', name: 'Age', type: 'date' },
          ],
          schema: {
            openAPIV3Schema: {
              description:
                'TopologyRoutingGrant says what a tenant namespace may route (see the README, "Tenancy").',
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  ...grantSpecSchema,
                  'x-kubernetes-validations': [
                    {
                      rule: '(has(self.default) && self.default) ? !has(self.namespace) && !has(self.namespaceUID) : has(self.namespace) && has(self.namespaceUID)',
                      message:
                        'a grant names a namespace and its uid (namespace, namespaceUID), or is the default (default: true) and names none',
                    },
                    {
                      rule: '!has(self.positions) || self.positions.min <= self.positions.max',
                      message: 'positions.min must not be above positions.max',
                      fieldPath: '.positions',
                    },
                  ],
                },
              },
              required: ['spec'],
            },
          },
        },
      ],
    },
  };
}
