// Wires the process together: kube access, caches, webhook, reconciler,
// leader election, TLS, probes and metrics, each as a runnable of one
// manager (manager.ts), which decides the order they start and stop in.
// Nothing here decides policy. The order keeps every promise true: the
// webhook answers only with a certificate and synced caches, and only the
// lease holder writes.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildWebhookServer } from '../admission/server.ts';
import { isDeepStrictEqual } from 'node:util';
import { startCaches, type Caches } from '../kube/caches.ts';
import { loadConnection, userAgent, type Connection } from '../kube/connection.ts';
import type { CacheListeners } from '../reconcile/ports.ts';
import { bindGrants } from '../rules/tenancy.ts';
import { startLeaderElection, type LeaderElector } from '../kube/leader-election.ts';
import { createRestClient, fenced, paths, type RestClient } from '../kube/rest.ts';
import { restEventSink, restStores } from '../kube/stores.ts';
import { cachedDiscovery, checkExistingData, sharedReads } from '../admission/existing-data.ts';
import { overrideAccessReview, type OverrideAuthorizer } from '../admission/override.ts';
import { createController, type Controller } from '../reconcile/controller.ts';
import { AdmissionBurst } from '../reconcile/admission-burst.ts';
import { createEventRecorder } from '../reconcile/events.ts';
import { ConfigIndex } from '../rules/config-index.ts';
import type { TopologyConfig } from '../resource/types.ts';
import { defaultPolicy, targetAllowed, type Policy } from '../rules/policy.ts';
import { injectCaBundle, webhookConfigurationClient } from '../tls/ca-bundle.ts';
import { followCertificate } from '../tls/certificate.ts';
import { watchCertificateFiles } from '../tls/file-source.ts';
import { rotationTiming } from '../tls/rotation.ts';
import { restTlsSecretStore } from '../tls/secret-store.ts';
import { startSharedCertificate } from '../tls/shared-secret-source.ts';
import type { CertificateSource } from '../tls/source.ts';
import type { ServingCertificate } from '../tls/certificate.ts';
import { servingCertificateNames, type Config } from './config.ts';
import type { ListeningServer } from './listen.ts';
import { createManager, type Election, type Manager, type Runnable } from './manager.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { secretLinks } from '../reconcile/linked.ts';
import { parseSecretKey } from '../secret-format/entry.ts';
import { kubeAuthorizer } from './metrics-auth.ts';
import { startMetricsServer } from './metrics-server.ts';
import { startProbeServer } from './probes.ts';

export interface RunningServer {
  stop(): Promise<void>;
}

const COMPONENT = 'topology-webhook';
/** Time for the existing-data check of one review (see existing-data.ts). */
const EXISTING_DATA_BUDGET_MS = 2_000;
const RECONCILE_EXISTING_DATA_BUDGET_MS = 10_000;
/** How long a review's count serves other reviews (existing-data.ts sharedReads); the reconciler counts afresh. */
const EXISTING_DATA_SHARED_MS = 1_000;

/** The kubelet's probes; first, so the kubelet sees a live process while caches fill. */
function probesRunnable(config: Config, logger: Logger, manager: () => Manager): Runnable {
  let server: ListeningServer | undefined;
  return {
    name: 'probes',
    start: async () => {
      if (!config.healthProbeBindAddress) return;
      server = await startProbeServer({
        address: config.healthProbeBindAddress,
        logger,
        checks: manager().checks,
      });
    },
    stop: () => server?.close(),
  };
}

/**
 * The serving certificate: files (cert-manager, re-read on change), or a CA
 * and serving pair that every replica shares through one Secret and whose CA
 * they inject into the webhook configurations (one CA for all replicas, or
 * the API server would reject every replica but the last to inject).
 */
function tlsRunnable(
  config: Config,
  rest: RestClient,
  logger: Logger,
): Runnable & { current(): ServingCertificate } {
  let source: CertificateSource | undefined;
  const startSource = async (): Promise<CertificateSource> => {
    if (config.webhook.certPath) {
      return watchCertificateFiles(
        config.webhook.certPath,
        config.webhook.certName,
        config.webhook.keyName,
        { logger, onChange: () => logger.info('serving certificate reloaded from files') },
      );
    }
    const client = webhookConfigurationClient(rest);
    return startSharedCertificate({
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
  };
  return {
    name: 'tls',
    start: async () => {
      source = await startSource();
    },
    stop: () => source?.stop(),
    readiness: {
      name: 'tls-loaded',
      ready: () => source !== undefined || 'serving certificate not loaded yet',
    },
    current: () => source!.current(),
  };
}

/** Informers over configs and Secrets; the index the webhook judges against. */
function cachesRunnable(
  start: () => Promise<Caches>,
): Runnable & Pick<Caches, 'configs' | 'managedSecrets'> {
  let caches: Caches | undefined;
  return {
    name: 'caches',
    start: async () => {
      caches = await start();
    },
    stop: () => caches?.stop(),
    readiness: {
      name: 'informers-synced',
      ready: () => caches?.synced() || 'caches not synced yet',
    },
    configs: () => caches?.configs() ?? [],
    managedSecrets: () => caches?.managedSecrets() ?? [],
  };
}

/** The admission webhook; close() answers every review already received and refuses new connections. */
function webhookRunnable(config: Config, build: () => FastifyInstance, logger: Logger): Runnable {
  let webhook: FastifyInstance | undefined;
  return {
    name: 'webhook',
    start: async () => {
      const server = build();
      const bind = config.webhook.bindAddress;
      await server.listen({ host: bind.host || '::', port: bind.port });
      webhook = server;
      logger.info({ address: server.server.address() }, 'webhook serving');
    },
    stop: () => webhook?.close(),
    readiness: {
      name: 'webhook-serving',
      ready: () => webhook !== undefined || 'webhook server not listening',
    },
  };
}

/** The registry's gauges kept current, and the HTTPS endpoint that serves them. */
function metricsRunnable(
  config: Config,
  metrics: Metrics,
  rest: RestClient,
  configs: () => readonly TopologyConfig[],
  tls: () => ServingCertificate,
  logger: Logger,
): Runnable {
  let server: ListeningServer | undefined;
  let countStates: NodeJS.Timeout | undefined;
  let ownSource: CertificateSource | undefined;
  return {
    name: 'metrics',
    start: async () => {
      // Status counts for dashboards, from the cache (no API calls).
      countStates = setInterval(() => {
        const counts = { Active: 0, Pending: 0, Error: 0 };
        for (const config of configs()) {
          const state = config.status?.deployStatus;
          if (state === 'Active' || state === 'Error') counts[state]++;
          else counts.Pending++;
        }
        metrics.setConfigCounts(counts);
      }, 10_000);
      countStates.unref();
      if (!config.metricsBindAddress) return;
      // kubebuilder's --metrics-cert-path: the metrics server's own files, re-read on change.
      const source = config.metricsCert
        ? watchCertificateFiles(
            config.metricsCert.path,
            config.metricsCert.certName,
            config.metricsCert.keyName,
            { logger, onChange: () => logger.info('metrics certificate reloaded from files') },
          )
        : undefined;
      ownSource = source;
      server = await startMetricsServer(
        config.metricsSecure
          ? {
              address: config.metricsBindAddress,
              tls: source ? () => source.current() : tls,
              authorize: kubeAuthorizer(rest),
              registry: metrics.registry,
              logger,
            }
          : { address: config.metricsBindAddress, plain: true, registry: metrics.registry, logger },
      );
    },
    stop: async () => {
      await server?.close();
      ownSource?.stop();
      clearInterval(countStates);
    },
    lease: (held) => metrics.setLeader(held),
  };
}

/** Reconciles while this replica holds the lease; stop waits for the reconcile in progress. */
function controllerRunnable(controller: Controller): Runnable {
  return {
    name: 'controller',
    stop: () => controller.shutdown(),
    lease: (held) => (held ? controller.startLeading() : controller.stopLeading()),
  };
}

/** The Lease; mayWrite() is the fence every write of the leader passes (LeaderElector.mayWrite). */
function leaseElection(
  config: Config,
  connection: Connection,
  logger: Logger,
  writesSettled: () => Promise<void>,
): Election & { mayWrite(): boolean } {
  let elector: LeaderElector | undefined;
  const identity = `${hostname()}_${randomBytes(4).toString('hex')}`;
  return {
    start: (onChange) => {
      elector = startLeaderElection({
        // A renewal is bounded by the renew deadline (it is dated from when it began).
        rest: createRestClient(
          connection,
          config.leaderElection.renewDeadlineMs,
          'call',
          COMPONENT,
        ),
        namespace: config.leaderElection.namespace!,
        name: config.leaderElection.id,
        identity,
        leaseDurationMs: config.leaderElection.leaseDurationMs,
        renewDeadlineMs: config.leaderElection.renewDeadlineMs,
        retryPeriodMs: config.leaderElection.retryPeriodMs,
        logger,
        onStartedLeading: () => onChange(true),
        onStoppedLeading: () => onChange(false),
        writesSettled,
      });
    },
    stop: async () => {
      await elector?.stop();
    },
    mayWrite: () => elector?.mayWrite() ?? false,
  };
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  // --kubeconfig (or KUBECONFIG), else the Pod's service account, else ~/.kube/config.
  const connection = loadConnection({
    kubeconfig: config.kubeconfig,
    context: config.context,
    userAgent: userAgent(COMPONENT, 'server'),
  });
  logger.info({ apiServer: connection.server.origin, from: connection.origin }, 'kube connection');
  const rest = createRestClient(connection, undefined, 'idle', COMPONENT);
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
  // Read at scrape time, through the runnables defined below.
  const metrics = createMetrics({
    leaseName: config.leaderElection.id,
    servingCertificate: () => (tls.readiness!.ready() === true ? tls.current().certPem : undefined),
    targetSecretSizes: () => ({
      largestBytes: Math.max(0, ...caches.managedSecrets().map((s) => s.dataBytes)),
      limitBytes: policy.maxSecretBytes,
    }),
  });

  // Counting existing objects shares one budget per review, well below the
  // webhook configurations' 5 s timeout (the mutating call and the network
  // take their share); past it the review is refused, not left to time out.
  // A burst of creates whose routes count the same places asks once per
  // window (and once for those in flight together).
  const discovery = cachedDiscovery(rest);
  const counts = sharedReads(rest, EXISTING_DATA_SHARED_MS);
  const existingData = (config: TopologyConfig, old: TopologyConfig | undefined) =>
    checkExistingData(counts, discovery, config, old, EXISTING_DATA_BUDGET_MS);
  const election = config.leaderElection.enabled
    ? leaseElection(config, connection, logger, () => writeRest.settled())
    : undefined;
  // Only the leader writes, and only while fenced (LeaderElector.mayWrite):
  // every write is checked as it is sent and bounded by leaseDuration -
  // renewDeadline, so it ends before another replica may take over.
  const writeRest = fenced(
    createRestClient(
      connection,
      election
        ? config.leaderElection.leaseDurationMs - config.leaderElection.renewDeadlineMs
        : undefined,
      'call',
      COMPONENT,
    ),
    () => election?.mayWrite() ?? true,
  );
  // Reviews coming fast (for a person, or for the merges): the reconciler waits for them (controller.ts).
  const burst = new AdmissionBurst();
  const controller = createController({
    deps: {
      ...restStores(writeRest),
      configsOfTarget: (target) => index.configsOfTarget(target),
      managedSecrets: () => caches.managedSecrets(),
      // Before a first merge there is no webhook timeout to stay under.
      existingData: (config) =>
        checkExistingData(rest, discovery, config, undefined, RECONCILE_EXISTING_DATA_BUDGET_MS),
      keys: index,
      policy: () => policy,
      events: createEventRecorder(restEventSink(writeRest), COMPONENT, logger),
      logger,
      settleMs: config.readySettleTimeMs,
    },
    allConfigs: () => caches.configs(),
    targets: () => index.targets(),
    mayWrite: () => election?.mayWrite() ?? true,
    holdBack: () => burst.quietIn(),
    logger,
    observer: {
      reconciled: (result, seconds) => {
        metrics.observeReconcile(result, seconds);
        burst.reconciled(seconds * 1000);
      },
      queueDepth: (depth) => metrics.setWorkqueueDepth(depth),
      workers: (active, max) => metrics.setWorkers(active, max),
      queue: metrics.workQueue,
    },
  });
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
  const tls = tlsRunnable(config, rest, logger);
  const caches = cachesRunnable(() =>
    startCaches({
      connection,
      rest,
      index,
      listeners,
      logger,
      mayBeTarget: (ref) => targetAllowed(ref, policy),
      // An entry's config is found by its key; the index holds it once the configs are listed.
      entryLinks: (secret) =>
        secretLinks(secret, (uid, key) => {
          const ref = parseSecretKey(key);
          const config = ref && index.get(ref.namespace, ref.name);
          return config?.metadata.uid === uid ? config : undefined;
        }),
    }),
  );
  const webhook = webhookRunnable(
    config,
    () => {
      const server = buildWebhookServer({
        tls: tls.current(),
        context: () => ({ view: index, policy, existingData, authorizeOverride }),
        logger,
        http: metrics.webhookHttp,
        observe: ({ webhook: kind, operation, allowed, seconds, changesSpec }) => {
          // The reconciler's own writes (finalizers, labels) are
          // reviewed too: counted, its first reconciles at 10,000 configs held
          // themselves back.
          if (changesSpec) burst.reviewed();
          metrics.observeAdmission({
            webhook: kind === 'validate' ? 'validating' : 'mutating',
            operation,
            allowed,
            seconds,
          });
        },
      });
      followCertificate(server.server as unknown as TlsServer, () => tls.current());
      return server;
    },
    logger,
  );

  const manager: Manager = createManager({
    runnables: [
      probesRunnable(config, logger, () => manager),
      tls,
      caches,
      webhook,
      metricsRunnable(config, metrics, rest, caches.configs, tls.current, logger),
      controllerRunnable(controller),
    ],
    ...(election ? { election } : {}),
    logger,
  });
  await manager.start();
  return { stop: () => manager.stop() };
}
