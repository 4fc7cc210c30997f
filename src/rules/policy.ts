// Cluster policy: what the platform team allows tenants to name. Passed in as
// an argument to every rule (never read from the environment here), so the
// server, the offline command and the tests each choose their own.
import { DEFAULT_TARGET_SECRET } from '../resource/schema.ts';
import type { NamespacedName } from '../resource/names.ts';
import { parseNamespacedName } from '../resource/names.ts';
import type { Tenancy } from './tenancy.ts';

export interface Policy {
  /** Target Secrets a config may name: `namespace/name`, or `namespace/*` for any Secret in that namespace. */
  allowedTargetSecrets: string[];
  /** spec.targetSecret when a config omits it. */
  defaultTargetSecret: string;
  /** Whether spec.endpointDecryptSecret may name a Secret outside the config's own namespace. */
  allowCrossNamespaceDecryptSecret: boolean;
  /** Limit on the merged Secret's data (key and value bytes), below the API server's 1 MiB object limit. */
  maxSecretBytes: number;
  /**
   * Who may route what (tenancy.ts): platform namespaces and the grants in
   * force. Absent: every namespace routes as a platform one (unit tests and
   * the offline command without grants); the server always sets it.
   */
  tenancy?: Tenancy;
  /** Namespaces of the product itself (TLS Secret, Lease): nobody may route them. Default: harikube-system. */
  productNamespaces?: readonly string[];
}

/**
 * Safe defaults: one target Secret, keys only from the config's own namespace,
 * and about 48 KiB of the 1 MiB object limit left for metadata.
 */
export const defaultPolicy: Policy = Object.freeze({
  allowedTargetSecrets: Object.freeze([DEFAULT_TARGET_SECRET]) as string[],
  defaultTargetSecret: DEFAULT_TARGET_SECRET,
  allowCrossNamespaceDecryptSecret: false,
  maxSecretBytes: 1_000_000,
});

export interface TargetPattern {
  namespace: string;
  /** A Secret name, or `*` for every Secret of the namespace. */
  name: string;
}

/** Parses `namespace/name` or `namespace/*`; undefined when malformed. */
export function parseTargetPattern(pattern: string): TargetPattern | undefined {
  return parseNamespacedName(pattern);
}

export function matchesTargetPattern(pattern: TargetPattern, ref: NamespacedName): boolean {
  return pattern.namespace === ref.namespace && (pattern.name === '*' || pattern.name === ref.name);
}

/**
 * Whether the policy forbids a config in `configNamespace` to read a Secret
 * in `secretNamespace` (the key Secret, or a secret:// credential).
 */
export function forbidsSecretRead(
  policy: Pick<Policy, 'allowCrossNamespaceDecryptSecret'>,
  configNamespace: string | undefined,
  secretNamespace: string,
): boolean {
  return !policy.allowCrossNamespaceDecryptSecret && secretNamespace !== configNamespace;
}

/** Whether any of `patterns` (`ns/name` or `ns/*`) names the Secret `ref`. */
export function matchesAnyTargetPattern(patterns: readonly string[], ref: NamespacedName): boolean {
  return patterns.some((p) => {
    const pattern = parseTargetPattern(p);
    return pattern !== undefined && matchesTargetPattern(pattern, ref);
  });
}

/** The target a config belongs to: an omitted targetSecret is the policy's default, as the mutating webhook sets it. */
export function targetOf(
  config: { spec?: { targetSecret?: unknown } },
  policy: Pick<Policy, 'defaultTargetSecret'>,
): string {
  const target = config.spec?.targetSecret;
  if (target === undefined) return policy.defaultTargetSecret;
  return typeof target === 'string' ? target : '';
}

/** Whether policy lets a config write into the Secret `ref`. */
export function targetAllowed(ref: NamespacedName, policy: Policy): boolean {
  return matchesAnyTargetPattern(policy.allowedTargetSecrets, ref);
}
