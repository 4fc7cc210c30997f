// caBundle injection: the CA that API servers must trust to call the webhook,
// written into its Validating- and MutatingWebhookConfiguration.

import { paths, type RestClient } from '../kube/rest.ts';
import { ApiError } from '../resource/errors.ts';

/** The parts of a Validating/MutatingWebhookConfiguration this module touches; the rest is kept as read. */
export interface WebhookConfigurationObject {
  metadata?: { name?: string; resourceVersion?: string; [field: string]: unknown };
  webhooks?: {
    clientConfig?: { caBundle?: string; [field: string]: unknown };
    [field: string]: unknown;
  }[];
  [field: string]: unknown;
}

export type WebhookConfigurationKind = 'validating' | 'mutating';

/** What injectCaBundle needs from the API server. Errors are ApiErrors (kube/rest.ts). */
export interface WebhookConfigurationClient {
  read(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfigurationObject>;
  replace(
    kind: WebhookConfigurationKind,
    name: string,
    body: WebhookConfigurationObject,
  ): Promise<unknown>;
}

const pathOf = (kind: WebhookConfigurationKind, name: string): string =>
  kind === 'validating'
    ? paths.validatingWebhookConfiguration(name)
    : paths.mutatingWebhookConfiguration(name);

/** The client over the product's REST client. */
export function webhookConfigurationClient(rest: RestClient): WebhookConfigurationClient {
  return {
    read: (kind, name) => rest.get<WebhookConfigurationObject>(pathOf(kind, name)),
    replace: (kind, name, body) => rest.replace(pathOf(kind, name), body),
  };
}

export type InjectionResult = 'updated' | 'unchanged' | 'not-found';

const statusCode = (err: unknown): number | undefined =>
  err instanceof ApiError ? err.status : undefined;

/**
 * Sets `webhooks[*].clientConfig.caBundle` of the Validating- and the
 * MutatingWebhookConfiguration called `name` to `caBundlePem` (base64 on the
 * wire). Read-modify-replace with the read resourceVersion, so a concurrent
 * edit is never overwritten; a 409 is retried with a fresh read. A missing
 * configuration is reported, not an error: it may not be installed yet.
 */
export async function injectCaBundle(
  client: WebhookConfigurationClient,
  name: string,
  caBundlePem: string,
  options: { maxAttempts?: number } = {},
): Promise<Record<WebhookConfigurationKind, InjectionResult>> {
  const encoded = Buffer.from(caBundlePem, 'utf8').toString('base64');
  const maxAttempts = options.maxAttempts ?? 5;
  const injectOne = async (kind: WebhookConfigurationKind): Promise<InjectionResult> => {
    for (let attempt = 1; ; attempt++) {
      let current: WebhookConfigurationObject;
      try {
        current = await client.read(kind, name);
      } catch (err) {
        if (statusCode(err) === 404) return 'not-found';
        throw err;
      }
      const webhooks = current.webhooks ?? [];
      if (webhooks.every((w) => w.clientConfig?.caBundle === encoded)) return 'unchanged';
      const body = structuredClone(current);
      for (const w of body.webhooks ?? [])
        w.clientConfig = { ...w.clientConfig, caBundle: encoded };
      try {
        await client.replace(kind, name, body);
        return 'updated';
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return 'not-found';
        if (code !== 409 || attempt >= maxAttempts) {
          throw new Error(
            `updating the caBundle of ${kind} webhook configuration ${name} failed${code ? ` (HTTP ${code})` : ''}`,
            {
              cause: err,
            },
          );
        }
      }
    }
  };
  return { validating: await injectOne('validating'), mutating: await injectOne('mutating') };
}
