// caBundle injection: the CA that API servers must trust to call the webhook,
// written into its Validating- and MutatingWebhookConfiguration.

import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import type {
  KubeConfig,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';

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

/**
 * What injectCaBundle needs from the API server. Errors carry the HTTP
 * status in `code` (client-node's ApiException does).
 */
export interface WebhookConfigurationClient {
  read(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfigurationObject>;
  replace(
    kind: WebhookConfigurationKind,
    name: string,
    body: WebhookConfigurationObject,
  ): Promise<unknown>;
}

/** The client over @kubernetes/client-node's AdmissionregistrationV1Api. */
export function webhookConfigurationClient(kubeConfig: KubeConfig): WebhookConfigurationClient {
  const api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  return {
    read: async (kind, name) =>
      kind === 'validating'
        ? ((await api.readValidatingWebhookConfiguration({ name })) as WebhookConfigurationObject)
        : ((await api.readMutatingWebhookConfiguration({ name })) as WebhookConfigurationObject),
    replace: (kind, name, body) =>
      kind === 'validating'
        ? api.replaceValidatingWebhookConfiguration({
            name,
            body: body as V1ValidatingWebhookConfiguration,
          })
        : api.replaceMutatingWebhookConfiguration({
            name,
            body: body as V1MutatingWebhookConfiguration,
          }),
  };
}

export type InjectionResult = 'updated' | 'unchanged' | 'not-found';

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

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
