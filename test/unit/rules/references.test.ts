import { describe, test } from 'node:test';
import { validateStatic } from '../../../src/rules/index.ts';
import type { Policy } from '../../../src/rules/policy.ts';
import type { ConfigOptions, Expected } from './fixtures.ts';
import { assertErrors, config, policy } from './fixtures.ts';

describe('targetSecret and endpointDecryptSecret', () => {
  const cases: {
    name: string;
    options: ConfigOptions;
    policy?: Partial<Policy>;
    errors: Expected[];
  }[] = [
    { name: 'the default target', options: {}, errors: [] },
    {
      name: 'a target allowed by a namespace/* pattern',
      options: { target: 'shared/routes' },
      errors: [],
    },
    {
      name: 'a target without a slash',
      options: { target: 'topology-config' },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.targetSecret',
          detail: 'must have the form namespace/name',
        },
      ],
    },
    {
      name: 'a target with an invalid namespace',
      options: { target: 'Team_A/routes' },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.targetSecret',
          detail: 'namespace "Team_A" must be a DNS-1123 label',
        },
      ],
    },
    {
      name: 'a target with an invalid name',
      options: { target: 'team-a/Routes!' },
      errors: [
        {
          type: 'Invalid',
          field: 'spec.targetSecret',
          detail: 'name "Routes!" must be a DNS-1123 subdomain',
        },
      ],
    },
    {
      name: 'a target the policy does not allow, naming what is allowed',
      options: { target: 'kube-system/bootstrap-token' },
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.targetSecret',
          detail:
            'not allowed by the cluster policy; allowed target Secrets: harikube/topology-config, shared/*',
        },
      ],
    },
    {
      name: 'a decrypt Secret in the own namespace',
      options: { decryptSecret: 'team-a/keys' },
      errors: [],
    },
    {
      name: 'a decrypt Secret in another namespace',
      options: { decryptSecret: 'team-b/keys' },
      errors: [
        {
          type: 'Forbidden',
          field: 'spec.endpointDecryptSecret',
          detail: "this config's own namespace (team-a)",
        },
      ],
    },
    {
      name: 'a decrypt Secret in another namespace, allowed by policy',
      options: { decryptSecret: 'team-b/keys' },
      policy: { allowCrossNamespaceDecryptSecret: true },
      errors: [],
    },
    {
      name: 'a malformed decrypt Secret',
      options: { decryptSecret: 'team-a/keys/extra' },
      errors: [{ type: 'Invalid', field: 'spec.endpointDecryptSecret', detail: 'namespace/name' }],
    },
    {
      name: 'namespace and name too long for the Secret key',
      options: { namespace: 'n'.repeat(63), name: 'x'.repeat(174) },
      errors: [{ type: 'TooLong', field: 'metadata.name', detail: 'at most 236 characters' }],
    },
    {
      name: 'namespace and name just fitting the Secret key',
      options: { namespace: 'n'.repeat(63), name: 'x'.repeat(173) },
      errors: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const verdict = validateStatic(config(c.options), { ...policy, ...c.policy }).verdict;
      assertErrors(verdict.errors, c.errors);
    });
  }
});
