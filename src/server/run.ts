// Wires the process together: kube access, caches, webhook, reconciler,
// leader election, TLS, probes and metrics. Nothing here decides policy;
// it only connects the pieces in the order that keeps every promise true:
// the webhook answers only with synced caches, and only the leader writes.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildWebhookServer } from '../admission/server.ts';
import { isDeepStrictEqual } from 'node:util';
import { startCaches, type CacheListeners, type Caches } from '../kube/caches.ts';
import { bindGrants } from '../rules/tenancy.ts';
import { startLeaderElection, type LeaderElector } from '../kube/leader-election.ts';
import { createRestClient, fenced, paths } from '../kube/rest.ts';
import { cachedDiscovery, checkExistingData } from '../admission/existing-data.ts';
import { overrideAccessReview, type OverrideAuthorizer } from '../admission/override.ts';
import { createController } from '../reconcile/controller.ts';
import { createEventRecorder } from '../reconcile/events.ts';
import { ConfigIndex } from '../rules/config-index.ts';
import { defaultPolicy, targetAllowed, type Policy } from '../rules/policy.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { servingCertificateNames, type Config } from './config.ts';
import { createMetrics } from './metrics.ts';
import { secretDataBytes } from '../secret-format/size.ts';
import { kubeAuthorizer } from './metrics-auth.ts';
import { startMetricsServer } from './metrics-server.ts';
import { startProbeServer, type ProbeServer } from './probes.ts';
import { injectCaBundle, webhookConfigurationClient } from '../tls/ca-bundle.ts';
import { followCertificate } from '../tls/certificate.ts';
import { watchCertificateFiles } from '../tls/file-source.ts';
import { rotationTiming } from '../tls/rotation.ts';
import { restTlsSecretStore } from '../tls/secret-store.ts';
import { startSharedCertificate } from '../tls/shared-secret-source.ts';
import type { CertificateSource } from '../tls/source.ts';

export interface RunningServer {
  stop(): Promise<void>;
}

const COMPONENT = 'topology-webhook';
/** Time for the existing-data check of one review (see existing-data.ts). */
const EXISTING_DATA_BUDGET_MS = 2_000;
const RECONCILE_EXISTING_DATA_BUDGET_MS = 10_000;

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const rest = createRestClient(kubeConfig);
  const { platformNamespaces, ...cluster } = config.policy;
  // Until the grants are listed, tenants route nothing (deny is the default).
  let policy: Policy = {
    ...cluster,
    maxSecretBytes: defaultPolicy.maxSecretBytes,
    tenancy: bindGrants([], platformNamespaces),
    // Where the product keeps its TLS Secret and Lease: nobody may route them.
    productNamespaces: [
      ...new Set(
        [config.webhook.certSecret.namespace, config.leaderElection.namespace].filter(
          (ns): ns is string => ns !== undefined,
        ),
      ),
    ],
  };
  const index = new ConfigIndex();
  const identity = `${hostname()}_${randomBytes(4).toString('hex')}`;
  const stops: Array<() => Promise<void> | void> = [];
  let caches: Caches | undefined;
  let webhook: FastifyInstance | undefined;
  let elector: LeaderElector | undefined;
  let shuttingDown = false;
  let tlsLoaded = false;
  let source: CertificateSource | undefined;
  const metrics = createMetrics({
    leaseName: config.leaderElection.id,
    servingCertificate: () => source?.current().certPem,
    targetSecretSizes: () => ({
      largestBytes: Math.max(
        0,
        ...(caches?.managedSecrets() ?? []).map((s) => secretDataBytes(s.data)),
      ),
      limitBytes: policy.maxSecretBytes,
    }),
  });

  // Probes first, so the kubelet sees a live process while caches fill.
  let probes: ProbeServer | undefined;
  if (config.healthProbeBindAddress) {
    probes = await startProbeServer({
      address: config.healthProbeBindAddress,
      logger,
      checks: [
        { name: 'informers-synced', ready: () => caches?.synced() || 'caches not synced yet' },
        {
          name: 'webhook-serving',
          ready: () => (webhook !== undefined && !shuttingDown) || 'webhook server not listening',
        },
        { name: 'tls-loaded', ready: () => tlsLoaded || 'serving certificate not loaded yet' },
      ],
    });
    stops.push(() => probes?.close());
  }

  // TLS: files (cert-manager, re-read on change), or a CA and serving pair
  // that every replica shares through one Secret and whose CA they inject
  // into the webhook configurations (one CA for all replicas, or the API
  // server would reject every replica but the last to inject).
  if (config.webhook.certPath) {
    source = watchCertificateFiles(
      config.webhook.certPath,
      config.webhook.certName,
      config.webhook.keyName,
      {
        logger,
        onChange: () => logger.info('serving certificate reloaded from files'),
      },
    );
  } else {
    const client = webhookConfigurationClient(kubeConfig);
    source = await startSharedCertificate({
      store: restTlsSecretStore(rest, config.webhook.certSecret),
      ref: config.webhook.certSecret,
      names: servingCertificateNames(config.webhook),
      timing: rotationTiming(config.webhook.certValidityMs),
      logger,
      publish: async (pem) => {
        const result = await injectCaBundle(client, config.webhook.configName, pem);
        const changed = result.validating === 'updated' || result.mutating === 'updated';
        if (changed) {
          logger.info(
            { webhookConfiguration: config.webhook.configName, ...result },
            'caBundle published',
          );
        }
        return changed;
      },
    });
  }
  stops.push(() => source?.stop());
  const currentCertificate = () => source!.current();
  tlsLoaded = true;

  // Counting existing objects shares one budget per review, well below the
  // webhook configurations' 5 s timeout (the mutating call and the network
  // take their share); past it the review is refused, not left to time out.
  const discovery = cachedDiscovery(rest);
  const existingData = (config: TopologyConfig, old: TopologyConfig | undefined) =>
    checkExistingData(rest, discovery, config, old, EXISTING_DATA_BUDGET_MS);
  // Only the leader writes, and only while fenced (LeaderElector.mayWrite):
  // every write is checked as it is sent and bounded by leaseDuration -
  // renewDeadline, so it ends before another replica may take over.
  const election = config.leaderElection;
  const writeRest = fenced(
    createRestClient(
      kubeConfig,
      election.enabled ? election.leaseDurationMs - election.renewDeadlineMs : undefined,
      'call',
    ),
    () => !election.enabled || (elector?.mayWrite() ?? false),
  );
  const controller = createController({
    deps: {
      rest: writeRest,
      configsOfTarget: (target) => index.configsOfTarget(target),
      managedSecrets: () => caches?.managedSecrets() ?? [],
      // Before a first merge there is no webhook timeout to stay under.
      existingData: (config) =>
        checkExistingData(rest, discovery, config, undefined, RECONCILE_EXISTING_DATA_BUDGET_MS),
      keys: index,
      policy: () => policy,
      events: createEventRecorder(writeRest, COMPONENT, logger),
      logger,
      settleMs: config.readySettleTimeMs,
    },
    allConfigs: () => caches?.configs() ?? [],
    mayWrite: () => !election.enabled || (elector?.mayWrite() ?? false),
    logger,
    observer: {
      reconciled: (result, seconds) => metrics.observeReconcile(result, seconds),
      queueDepth: (depth) => metrics.setWorkqueueDepth(depth),
      workers: (active, max) => metrics.setWorkers(active, max),
      queue: metrics.workQueue,
    },
  });
  const leading = (value: boolean) => {
    metrics.setLeader(value);
    if (value) controller.startLeading();
    else controller.stopLeading();
  };

  const listeners: CacheListeners = {
    ...controller.listeners,
    grantsChanged: (grants, uids) => {
      const tenancy = bindGrants(grants, platformNamespaces, uids);
      // A new policy object re-judges every config (the merge remembers
      // verdicts per policy): only when the grants in force differ.
      if (isDeepStrictEqual(tenancy, policy.tenancy)) return;
      policy = { ...policy, tenancy };
      logger.info({ grants: grants.length }, 'routing grants in force changed');
      controller.listeners.grantsChanged(grants, uids);
    },
  };
  caches = await startCaches({
    kubeConfig,
    rest,
    index,
    listeners,
    logger,
    mayBeTarget: (ref) => targetAllowed(ref, policy),
  });

  // An override is authorised per request, by the API server's own authorizer.
  const authorizeOverride: OverrideAuthorizer = async (user, namespace) => {
    try {
      const review = await rest.create<{ status?: { allowed?: boolean; reason?: string } }>(
        paths.subjectAccessReviews(),
        overrideAccessReview(user, namespace),
      );
      return { allowed: review.status?.allowed === true, reason: review.status?.reason };
    } catch (error) {
      logger.warn({ err: error, namespace }, 'SubjectAccessReview for an override failed');
      return { allowed: false, reason: 'the SubjectAccessReview failed' };
    }
  };
  webhook = buildWebhookServer({
    tls: currentCertificate(),
    context: () => ({ view: index, policy, existingData, authorizeOverride }),
    logger,
    http: metrics.webhookHttp,
    observe: ({ webhook: kind, operation, allowed, seconds }) =>
      metrics.observeAdmission({
        webhook: kind === 'validate' ? 'validating' : 'mutating',
        operation,
        allowed,
        seconds,
      }),
  });
  followCertificate(webhook.server as unknown as import('node:tls').Server, currentCertificate);
  const bind = config.webhook.bindAddress;
  await webhook.listen({ host: bind.host || '::', port: bind.port });
  logger.info({ address: webhook.server.address() }, 'webhook serving');

  if (config.leaderElection.enabled) {
    elector = startLeaderElection({
      // A renewal is bounded by the renew deadline (it is dated from when it began).
      rest: createRestClient(kubeConfig, config.leaderElection.renewDeadlineMs, 'call'),
      namespace: config.leaderElection.namespace!,
      name: config.leaderElection.id,
      identity,
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      logger,
      onStartedLeading: () => leading(true),
      onStoppedLeading: () => leading(false),
      writesSettled: () => writeRest.settled(),
    });
  } else {
    leading(true);
  }

  // Status counts for dashboards, from the cache (no API calls).
  const countStates = setInterval(() => {
    const counts = { Active: 0, Pending: 0, Error: 0 };
    for (const config of caches?.configs() ?? []) {
      const state = config.status?.deployStatus;
      if (state === 'Active' || state === 'Error') counts[state]++;
      else counts.Pending++;
    }
    metrics.setConfigCounts(counts);
  }, 10_000);
  countStates.unref();
  stops.push(() => clearInterval(countStates));

  if (config.metricsBindAddress) {
    // kubebuilder's --metrics-cert-path: the metrics server's own files, re-read on change.
    const metricsSource = config.metricsCert
      ? watchCertificateFiles(
          config.metricsCert.path,
          config.metricsCert.certName,
          config.metricsCert.keyName,
          { logger, onChange: () => logger.info('metrics certificate reloaded from files') },
        )
      : undefined;
    if (metricsSource) stops.push(() => metricsSource.stop());
    const metricsServer = await startMetricsServer(
      config.metricsSecure
        ? {
            address: config.metricsBindAddress,
            tls: metricsSource ? () => metricsSource.current() : currentCertificate,
            authorize: kubeAuthorizer(kubeConfig),
            registry: metrics.registry,
            logger,
          }
        : { address: config.metricsBindAddress, plain: true, registry: metrics.registry, logger },
    );
    stops.push(() => metricsServer.close());
  }

  return {
    async stop() {
      shuttingDown = true; // /readyz fails from now on
      // Hand over the lease first so that a standby starts reconciling at once.
      await elector?.stop();
      await controller.shutdown();
      // Answers every review already received, refuses new connections.
      await webhook?.close();
      await caches?.stop();
      for (const stop of stops.reverse()) await stop();
    },
  };
}
