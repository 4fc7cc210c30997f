// The cluster-policy flags, shared by the server and the `topology` command
// so that both read them the same way: same names, defaults, help and checks.

import { parseNamespacedName } from '../resource/names.ts';
import { DEFAULT_TARGET_SECRET } from '../resource/schema.ts';
import { matchesAnyTargetPattern } from '../rules/policy.ts';
import type { BooleanFlag, FlagValues, ListFlag, StringFlag } from './table.ts';
import { isDnsLabel, namespacedName, quiet } from './values.ts';

export interface PolicyConfig {
  /** `namespace/name` or `namespace/*` patterns a config's targetSecret must match. */
  allowedTargetSecrets: string[];
  defaultTargetSecret: string;
  allowCrossNamespaceDecryptSecret: boolean;
}

const allowedTargetSecrets: ListFlag<string[]> = {
  type: 'string',
  multiple: true,
  default: DEFAULT_TARGET_SECRET,
  value: 'NS/NAME[,NS/*]',
  help: 'Secrets a TopologyConfig may name as spec.targetSecret ("ns/*": any in ns)',
  parse: (patterns, problem) => {
    for (const pattern of patterns) {
      if (!parseNamespacedName(pattern)) {
        problem(`${JSON.stringify(pattern)} is not NS/NAME or NS/*`);
      } else if (pattern.endsWith('/*')) {
        if (!isDnsLabel(pattern.slice(0, -2)))
          problem(`${JSON.stringify(pattern)} does not start with a valid namespace name`);
      } else {
        namespacedName(pattern, problem);
      }
    }
    return patterns;
  },
};

const defaultTargetSecret: StringFlag<string> = {
  type: 'string',
  default: DEFAULT_TARGET_SECRET,
  value: 'NS/NAME',
  help: 'spec.targetSecret set by the mutating webhook when omitted',
  parse: (text, problem) => {
    namespacedName(text!, problem);
    return text!;
  },
};

const allowCrossNamespaceDecryptSecret: BooleanFlag = {
  type: 'boolean',
  default: false,
  help: "let spec.endpointDecryptSecret name a Secret outside the config's own namespace",
};

export const POLICY_FLAGS = {
  'allowed-target-secrets': allowedTargetSecrets,
  'default-target-secret': defaultTargetSecret,
  'allow-cross-namespace-decrypt-secret': allowCrossNamespaceDecryptSecret,
};

export function policyConfig(values: FlagValues<typeof POLICY_FLAGS>): PolicyConfig {
  return {
    allowedTargetSecrets: values['allowed-target-secrets'],
    defaultTargetSecret: values['default-target-secret'],
    allowCrossNamespaceDecryptSecret: values['allow-cross-namespace-decrypt-secret'],
  };
}

/** The one check across policy flags: the default target must itself be allowed. */
export function defaultTargetProblem(policy: PolicyConfig): string | undefined {
  const ref = namespacedName(policy.defaultTargetSecret, quiet);
  if (!ref || matchesAnyTargetPattern(policy.allowedTargetSecrets, ref)) return undefined;
  return `--default-target-secret: ${JSON.stringify(policy.defaultTargetSecret)} is not allowed by --allowed-target-secrets`;
}
