// The merged Secret must stay under the API server's 1 MiB object limit
// (policy.maxSecretBytes of data leaves room for metadata): a Secret that
// cannot be written would block every config of its target.
import type { TopologyConfig } from '../resource/types.ts';
import { entrySize, renderEntry, secretKeyFor } from '../reconcile/render.ts';
import type { FieldError } from './field-errors.ts';
import { tooLong } from './field-errors.ts';
import type { Policy } from './policy.ts';
import type { ConfigView } from './view.ts';

/** The data bytes of this config's entry (key and YAML), or undefined when it cannot be rendered. */
export function renderedSize(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
): number | undefined {
  try {
    const raw = config.spec.backends.map((b, i) => endpoints[i] ?? b.endpoint);
    return entrySize(secretKeyFor(config), renderEntry(config, raw));
  } catch {
    // Invalid durations and the like: reported by the static rules.
    return undefined;
  }
}

export function sizeError(
  target: string,
  total: number,
  entry: number,
  policy: Policy,
): FieldError {
  return tooLong(
    'spec.backends',
    `the merged Secret ${target} would hold ${total} bytes of data, over the limit of ${policy.maxSecretBytes} (this config's entry is ${entry} bytes): use fewer or shorter backends, or another target Secret`,
  );
}

/** The target's total minus this config's old entry plus its new one must fit. */
export function validateSize(
  config: TopologyConfig,
  endpoints: readonly (string | undefined)[],
  view: ConfigView,
  policy: Policy,
): FieldError[] {
  const target = config.spec.targetSecret;
  const entry = renderedSize(config, endpoints);
  if (entry === undefined) return [];
  const { namespace = '', name = '' } = config.metadata;
  const total = view.targetBytes(target) - view.entryBytes(namespace, name) + entry;
  return total > policy.maxSecretBytes ? [sizeError(target, total, entry, policy)] : [];
}
