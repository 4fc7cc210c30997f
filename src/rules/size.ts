// The merged Secret must stay under the API server's 1 MiB object limit
// (policy.maxSecretBytes of data leaves room for metadata): a Secret that
// cannot be written would block every config of its target.
import type { TopologyConfig } from '../resource/types.ts';
import { renderedSize, renderedSizeBound } from '../secret-format/size.ts';
import type { FieldError } from './field-errors.ts';
import { tooLong } from './field-errors.ts';
import type { Policy } from './policy.ts';
import type { ConfigView } from './view.ts';

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
  const { namespace = '', name = '' } = config.metadata;
  const others = view.targetBytes(target) - view.entryBytes(namespace, name);
  // Rendering the YAML costs more than all the other rules of a review
  // together; far from the limit, the bound already proves the entry fits.
  if (others + renderedSizeBound(config, endpoints) <= policy.maxSecretBytes) return [];
  const entry = renderedSize(config, endpoints);
  if (entry === undefined) return [];
  const total = others + entry;
  return total > policy.maxSecretBytes ? [sizeError(target, total, entry, policy)] : [];
}
