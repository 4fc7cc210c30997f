// Command-line configuration of the server. Flag names follow controller-runtime
// operators (kubebuilder scaffolds) where one exists, so a platform team's
// Deployment manifests and habits carry over. Each flag owns its parser,
// default and help in FLAGS; the checks across flags are in one place
// (checkTogether). Parsing is pure: argv and env are passed in; the only
// side effect is checking that a given cert directory is readable, because
// failing at start-up beats failing at the first handshake.

import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { NamespacedName } from '../resource/names.ts';
import { POLICY_FLAGS, defaultTargetProblem, policyConfig } from '../flags/policy.ts';
import type { PolicyConfig } from '../flags/policy.ts';
import {
  FlagSyntaxError,
  flagValues,
  flagsHelp,
  readArgv,
  type BooleanFlag,
  type FlagValues,
  type ListFlag,
  type StringFlag,
} from '../flags/table.ts';
import {
  bindAddress,
  isDnsLabel,
  isDnsSubdomain,
  isHost,
  namespacedName,
  positiveDuration,
  quiet,
  subdomainName,
  type BindAddress,
} from '../flags/values.ts';

export interface LeaderElectionConfig {
  enabled: boolean;
  namespace: string | undefined;
  /** Name of the coordination.k8s.io Lease. */
  id: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface WebhookConfig {
  bindAddress: BindAddress;
  /** Directory with the serving certificate; undefined: self-provision one and inject its CA. */
  certPath: string | undefined;
  certName: string;
  keyName: string;
  /** Name of both the Validating- and the MutatingWebhookConfiguration. */
  configName: string;
  /** The Service in front of the webhook (its DNS names go into a self-provisioned certificate). */
  service: NamespacedName;
  /** Extra subject alternative names (DNS names or IP addresses). */
  hosts: string[];
  /** Host the API server reaches the webhook at by URL (local runs); also a SAN. */
  urlHost: string | undefined;
  /** Self-provisioned mode: the Secret every replica shares its CA and serving pair through. */
  certSecret: NamespacedName;
  /** Self-provisioned mode: lifetime of each CA and serving certificate. */
  certValidityMs: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  help: boolean;
  /** A kubeconfig path (several joined by ":"); undefined: the service account, else ~/.kube/config. */
  kubeconfig: string | undefined;
  /** --context: another kubeconfig context than its current-context. */
  context: string | undefined;
  webhook: WebhookConfig;
  /** undefined when disabled with "0". */
  healthProbeBindAddress: BindAddress | undefined;
  /** undefined when disabled with "0". */
  metricsBindAddress: BindAddress | undefined;
  /** HTTPS with TokenReview + SubjectAccessReview; false: plain HTTP, no authentication. */
  metricsSecure: boolean;
  /** --metrics-cert-path: the metrics server's own certificate files; else the webhook's certificate. */
  metricsCert: { path: string; certName: string; keyName: string } | undefined;
  leaderElection: LeaderElectionConfig;
  /** platformNamespaces: namespaces whose configs route anything but the deny list; `*`: every namespace. */
  policy: PolicyConfig & { platformNamespaces: string[] };
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  /** How long after Active the Ready condition turns True (the middleware's reload). */
  readySettleTimeMs: number;
}

/** Every problem found in the flags, so the operator fixes them in one go. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

const text = (t: string | undefined): string | undefined => t;

function address(def: string, disableable: boolean, help: string) {
  return {
    type: 'string',
    default: def,
    value: 'ADDR',
    help,
    parse: (t, problem) => bindAddress(t!, problem, disableable),
  } satisfies StringFlag<BindAddress | undefined>;
}

function duration(def: string, help: string, zeroAllowed = false): StringFlag<number> {
  return {
    type: 'string',
    default: def,
    value: 'DURATION',
    help,
    parse: (t, problem) => positiveDuration(t!, problem, zeroAllowed),
  };
}

function fileName(def: string, help: string, dirFlag = '--webhook-cert-path'): StringFlag<string> {
  return {
    type: 'string',
    default: def,
    value: 'FILE',
    help,
    parse: (t, problem) => {
      if (t === '' || t!.includes('/'))
        problem(`${JSON.stringify(t)} must be a file name inside ${dirFlag}`);
      return t!;
    },
  };
}

/** A value of one of kubebuilder's `--zap-*` flags: checked against zap's own choices. */
function zapChoice(choices: readonly string[], help: string): StringFlag<string | undefined> {
  return {
    type: 'string',
    value: choices.join('|'),
    help,
    parse: (t, problem) => {
      if (t !== undefined && !choices.includes(t))
        problem(`${JSON.stringify(t)} is not one of ${choices.join(', ')}`);
      return t;
    },
  };
}

/**
 * controller-runtime's --zap-log-level onto pino's levels: debug, info, error,
 * panic, or a verbosity above 0 (1 is debug, more is trace).
 */
function zapLevel(t: string | undefined, problem: (text: string) => void): LogLevel | undefined {
  if (t === undefined) return undefined;
  const named: Record<string, LogLevel> = {
    debug: 'debug',
    info: 'info',
    warn: 'warn',
    error: 'error',
    dpanic: 'fatal',
    panic: 'fatal',
    fatal: 'fatal',
  };
  if (named[t]) return named[t];
  if (/^[1-9][0-9]*$/.test(t)) return t === '1' ? 'debug' : 'trace';
  problem(`${JSON.stringify(t)} is not debug, info, error, panic or an integer above 0`);
  return undefined;
}

function host(t: string, problem: (text: string) => void): string {
  if (!isHost(t)) problem(`${JSON.stringify(t)} is neither a DNS name nor an IP address`);
  return t;
}

/** --webhook-cert-secret as given: a name alone is placed in a namespace later; null when invalid. */
type CertSecretFlag = { namespace?: string; name: string } | null | undefined;

const FLAGS = {
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    value: 'PATH',
    help: 'kubeconfig file (several: joined by ":", merged as kubectl does); without it the Pod\'s service account, else ~/.kube/config',
    parse: text,
  } satisfies StringFlag<string | undefined>,
  context: {
    type: 'string',
    value: 'NAME',
    help: "the kubeconfig's context to use (default: its current-context); refused with the Pod's service account",
    parse: text,
  } satisfies StringFlag<string | undefined>,
  'webhook-bind-address': address(
    ':9443',
    false,
    'address the HTTPS admission webhook listens on (":port", "host:port", "[::1]:port")',
  ),
  'health-probe-bind-address': address(
    ':8081',
    true,
    'address of the HTTP /healthz and /readyz endpoints; "0" disables them',
  ),
  'metrics-bind-address': address(
    ':8443',
    true,
    'address of the HTTPS /metrics endpoint (TokenReview + SubjectAccessReview); "0" disables it',
  ),
  'metrics-secure': {
    type: 'boolean',
    default: true,
    help: 'serve /metrics over HTTPS to callers that pass TokenReview + SubjectAccessReview; --metrics-secure=false serves plain HTTP to anyone who reaches the port',
  } satisfies BooleanFlag,
  'metrics-cert-path': {
    type: 'string',
    value: 'DIR',
    help: 'with --metrics-secure: directory with the metrics server certificate (re-read on change); without it /metrics uses the webhook serving certificate',
    parse: text,
  } satisfies StringFlag<string | undefined>,
  'metrics-cert-name': fileName(
    'tls.crt',
    'certificate file name in --metrics-cert-path',
    '--metrics-cert-path',
  ),
  'metrics-cert-key': fileName(
    'tls.key',
    'private key file name in --metrics-cert-path',
    '--metrics-cert-path',
  ),
  'enable-http2': {
    type: 'boolean',
    default: false,
    help: "kubebuilder's flag, off as there since the HTTP/2 rapid-reset advisories; the webhook and metrics servers speak HTTP/1.1 only, so true is refused",
  } satisfies BooleanFlag,
  'leader-elect': {
    type: 'boolean',
    default: false,
    help: 'elect a leader with a Lease; only the leader reconciles (every replica serves the webhook)',
  } satisfies BooleanFlag,
  'leader-election-namespace': {
    type: 'string',
    env: 'POD_NAMESPACE',
    value: 'NS',
    help: 'namespace of the leader-election Lease',
    parse: (t, problem) => {
      if (t !== undefined && !isDnsLabel(t))
        problem(`${JSON.stringify(t)} is not a valid namespace name (RFC 1123 label)`);
      return t;
    },
  } satisfies StringFlag<string | undefined>,
  'leader-election-id': {
    type: 'string',
    default: 'topology-webhook.harikube.info',
    value: 'NAME',
    help: 'name of the leader-election Lease',
    parse: (t, problem) => subdomainName(t!, problem, 'Lease name'),
  } satisfies StringFlag<string>,
  'leader-elect-lease-duration': duration(
    '15s',
    'how long non-leaders wait before taking over an unrenewed Lease',
  ),
  'leader-elect-renew-deadline': duration(
    '10s',
    'how long the leader keeps trying to renew before it steps down',
  ),
  'leader-elect-retry-period': duration('2s', 'interval between leader-election attempts'),
  'webhook-cert-path': {
    type: 'string',
    value: 'DIR',
    help: 'directory with the serving certificate (re-read on change); without it the replicas share a self-made CA and certificate through --webhook-cert-secret and inject the CA as caBundle',
    parse: text,
  } satisfies StringFlag<string | undefined>,
  'webhook-cert-name': fileName('tls.crt', 'certificate file name in --webhook-cert-path'),
  'webhook-cert-key': fileName('tls.key', 'private key file name in --webhook-cert-path'),
  'webhook-cert-secret': {
    type: 'string',
    value: '[NS/]NAME',
    help: 'without --webhook-cert-path: the Secret holding the CA and serving certificate that all replicas share (made by the first replica, rotated by whichever replica wins the update); default "<webhook-config-name>-tls" in --leader-election-namespace (POD_NAMESPACE), else in the namespace of --webhook-service',
    parse: (t, problem): CertSecretFlag => {
      if (t === undefined) return undefined;
      if (t.includes('/')) return namespacedName(t, problem) ?? null;
      if (!isDnsSubdomain(t)) {
        problem(`${JSON.stringify(t)} is not a valid name (RFC 1123 subdomain)`);
        return null;
      }
      return { name: t };
    },
  } satisfies StringFlag<CertSecretFlag>,
  'webhook-cert-validity': {
    ...duration(
      '8760h',
      'without --webhook-cert-path: lifetime of the self-provisioned CA and certificate; renewed with a third of it left (at least "1m")',
    ),
    parse: (t, problem) => {
      const ms = positiveDuration(t!, problem);
      if (ms > 0 && ms < 60_000) problem('must be at least 1m');
      return ms;
    },
  } satisfies StringFlag<number>,
  'webhook-config-name': {
    type: 'string',
    default: 'topology-webhook',
    value: 'NAME',
    help: 'name of the Validating- and MutatingWebhookConfiguration that get the caBundle',
    parse: (t, problem) => subdomainName(t!, problem),
  } satisfies StringFlag<string>,
  'webhook-service': {
    type: 'string',
    default: 'harikube-system/topology-webhook',
    value: 'NS/NAME',
    help: 'Service in front of the webhook; its DNS names go into a self-provisioned certificate',
    parse: (t, problem) => namespacedName(t!, problem, 'service'),
  } satisfies StringFlag<NamespacedName | undefined>,
  'webhook-host': {
    type: 'string',
    multiple: true,
    value: 'HOST[,HOST]',
    help: 'extra DNS name or IP address for a self-provisioned certificate (repeatable)',
    parse: (items, problem) => items.map((t) => host(t, problem)),
  } satisfies ListFlag<string[]>,
  'webhook-url-host': {
    type: 'string',
    value: 'HOST',
    help: 'host the API server calls the webhook at by URL (local runs); added to a self-provisioned certificate',
    parse: (t, problem) => (t === undefined ? undefined : host(t, problem)),
  } satisfies StringFlag<string | undefined>,
  ...POLICY_FLAGS,
  'platform-namespaces': {
    type: 'string',
    multiple: true,
    value: 'NS[,NS]',
    help: 'namespaces whose TopologyConfigs may route anything (but the keys nobody routes); every other namespace is a tenant that routes only what a TopologyRoutingGrant allows; "*": every namespace (no tenants); default: the namespace of --default-target-secret',
    parse: (items, problem) => {
      for (const namespace of items) {
        if (namespace !== '*' && !isDnsLabel(namespace))
          problem(
            `${JSON.stringify(namespace)} is not a valid namespace name (RFC 1123 label) or "*"`,
          );
      }
      return items;
    },
  } satisfies ListFlag<string[]>,
  'log-level': {
    type: 'string',
    default: 'info',
    env: 'LOG_LEVEL',
    value: 'LEVEL',
    help: `one of ${LOG_LEVELS.join(', ')}`,
    parse: (t, problem) => {
      if (!(LOG_LEVELS as readonly string[]).includes(t!))
        problem(`${JSON.stringify(t)} is not one of ${LOG_LEVELS.join(', ')}`);
      return t as LogLevel;
    },
  } satisfies StringFlag<LogLevel>,
  // kubebuilder's logging flags (controller-runtime's zap options), mapped onto pino.
  'zap-log-level': {
    type: 'string',
    value: 'LEVEL',
    help: 'as controller-runtime reads it: debug, info, error, panic, or a verbosity above 0 (1: debug, more: trace); overrides --log-level',
    parse: zapLevel,
  } satisfies StringFlag<LogLevel | undefined>,
  'zap-devel': {
    type: 'boolean',
    default: false,
    help: 'development logging: level debug unless --zap-log-level or --log-level says otherwise',
  } satisfies BooleanFlag,
  'zap-encoder': zapChoice(
    ['json', 'console'],
    'accepted for kubebuilder manifests; lines are always JSON (pipe through pino-pretty for a console view)',
  ),
  'zap-stacktrace-level': zapChoice(
    ['info', 'error', 'panic'],
    'accepted for kubebuilder manifests; error lines carry no stack traces of the product',
  ),
  'zap-time-encoding': zapChoice(
    ['epoch', 'millis', 'nano', 'iso8601', 'rfc3339', 'rfc3339nano'],
    'accepted for kubebuilder manifests; timestamps are always ISO 8601 with milliseconds (UTC)',
  ),
  'ready-settle-time': duration(
    '5s',
    'how long after a config is Active (its entry in the Secret) its Ready condition turns True, so the middleware has reloaded the Secret; 0 for at once',
    true,
  ),
  'shutdown-timeout': duration(
    '25s',
    'on SIGTERM, how long to drain in-flight requests before exiting',
  ),
  help: { type: 'boolean', default: false, help: 'print this help and exit' } satisfies BooleanFlag,
};

type Values = FlagValues<typeof FLAGS>;

export function usage(): string {
  return `${['Usage: topology-webhook [flags]', '', 'Flags:', ...flagsHelp(FLAGS)].join('\n')}\n`;
}

/** The cert directory `flag` names and the two files in it must be readable. */
function certFileProblems(flag: string, dir: string, certName: string, keyName: string): string[] {
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.R_OK | constants.X_OK);
  } catch {
    return [`${flag}: ${JSON.stringify(dir)} is not a readable directory`];
  }
  return [certName, keyName].flatMap((file) => {
    try {
      accessSync(join(dir, file), constants.R_OK);
      return [];
    } catch {
      return [`${flag}: ${JSON.stringify(join(dir, file))} is missing or unreadable`];
    }
  });
}

/**
 * Every check that involves more than one flag. Returns the problems and the
 * shared TLS Secret, which lives with the pods: the flag, else the pod's
 * namespace, else the Service's.
 */
function checkTogether(v: Values): { problems: string[]; certSecret: NamespacedName | undefined } {
  const problems: string[] = [];
  const lease = v['leader-elect-lease-duration'];
  const renew = v['leader-elect-renew-deadline'];
  if (renew >= lease) {
    problems.push(
      '--leader-elect-renew-deadline must be shorter than --leader-elect-lease-duration',
    );
  }
  if (v['leader-elect-retry-period'] >= renew) {
    problems.push('--leader-elect-retry-period must be shorter than --leader-elect-renew-deadline');
  }
  const namespace = v['leader-election-namespace'];
  if (v['leader-elect'] && namespace === undefined) {
    problems.push(
      '--leader-elect needs --leader-election-namespace (or the POD_NAMESPACE environment variable)',
    );
  }
  const certPath = v['webhook-cert-path'];
  if (certPath !== undefined) {
    problems.push(
      ...certFileProblems(
        '--webhook-cert-path',
        certPath,
        v['webhook-cert-name'],
        v['webhook-cert-key'],
      ),
    );
  }
  const metricsCertPath = v['metrics-cert-path'];
  if (metricsCertPath !== undefined) {
    problems.push(
      ...certFileProblems(
        '--metrics-cert-path',
        metricsCertPath,
        v['metrics-cert-name'],
        v['metrics-cert-key'],
      ),
    );
    if (!v['metrics-secure']) problems.push('--metrics-cert-path needs --metrics-secure');
  }
  if (v['enable-http2']) {
    problems.push(
      '--enable-http2: the webhook and metrics servers speak HTTP/1.1 only (kubebuilder turns HTTP/2 off by default too, since the rapid-reset advisories); drop the flag or set it to false',
    );
  }
  const policyProblem = defaultTargetProblem(policyConfig(v));
  if (policyProblem) problems.push(policyProblem);

  const configName = v['webhook-config-name'];
  const given = v['webhook-cert-secret'];
  const podNamespace = namespace !== undefined && isDnsLabel(namespace) ? namespace : undefined;
  const inPodNamespace = (name: string): NamespacedName => ({
    namespace: podNamespace ?? v['webhook-service']?.namespace ?? 'harikube-system',
    name,
  });
  let certSecret: NamespacedName | undefined;
  if (given === null) {
    // Reported by the flag's own parser.
  } else if (given !== undefined) {
    certSecret =
      given.namespace !== undefined
        ? { namespace: given.namespace, name: given.name }
        : inPodNamespace(given.name);
  } else if (isDnsSubdomain(configName)) {
    // A bad --webhook-config-name is reported already; the derived name can still be too long.
    const derived = `${configName}-tls`;
    if (isDnsSubdomain(derived)) certSecret = inPodNamespace(derived);
    else
      problems.push(
        `--webhook-cert-secret: ${JSON.stringify(derived)} is not a valid name (RFC 1123 subdomain)`,
      );
  }
  return { problems, certSecret };
}

/** --zap-log-level, else debug under --zap-devel unless --log-level is given, else --log-level (or LOG_LEVEL). */
function logLevelOf(v: Values, raw: Record<string, unknown>): LogLevel {
  const zap = v['zap-log-level'];
  if (zap !== undefined) return zap;
  if (v['zap-devel'] && raw['log-level'] === undefined) return 'debug';
  return v['log-level'];
}

export function parseConfig(argv: string[], env: Record<string, string | undefined>): Config {
  // `--help` wins over any other problem, even an unknown flag.
  const wantsHelp = argv.includes('--help') || argv.includes('--help=true');
  let raw;
  try {
    raw = readArgv(FLAGS, argv);
  } catch (err) {
    if (!(err instanceof FlagSyntaxError)) throw err;
    if (!wantsHelp) throw new ConfigError([err.message]);
    raw = { help: true };
  }
  const { values: v, problems } = flagValues(FLAGS, raw, env);
  const together = checkTogether(v);
  problems.push(...together.problems);
  // With --help the caller prints usage and exits; other problems do not matter then.
  if (problems.length > 0 && !v.help) throw new ConfigError(problems);

  const configName = v['webhook-config-name'];
  return {
    help: v.help,
    kubeconfig: v.kubeconfig,
    context: v.context,
    webhook: {
      bindAddress: v['webhook-bind-address'] ?? { host: '', port: 9443 },
      certPath: v['webhook-cert-path'],
      certName: v['webhook-cert-name'],
      keyName: v['webhook-cert-key'],
      configName,
      service: v['webhook-service'] ?? { namespace: 'harikube-system', name: 'topology-webhook' },
      hosts: v['webhook-host'],
      urlHost: v['webhook-url-host'],
      certSecret: together.certSecret ?? {
        namespace: 'harikube-system',
        name: `${configName}-tls`,
      },
      certValidityMs: v['webhook-cert-validity'],
    },
    healthProbeBindAddress: v['health-probe-bind-address'],
    metricsBindAddress: v['metrics-bind-address'],
    metricsSecure: v['metrics-secure'],
    metricsCert:
      v['metrics-cert-path'] === undefined
        ? undefined
        : {
            path: v['metrics-cert-path'],
            certName: v['metrics-cert-name'],
            keyName: v['metrics-cert-key'],
          },
    leaderElection: {
      enabled: v['leader-elect'],
      namespace: v['leader-election-namespace'],
      id: v['leader-election-id'],
      leaseDurationMs: v['leader-elect-lease-duration'],
      renewDeadlineMs: v['leader-elect-renew-deadline'],
      retryPeriodMs: v['leader-elect-retry-period'],
    },
    policy: {
      ...policyConfig(v),
      // Given (even empty), as given; else the namespace of the default target Secret.
      platformNamespaces:
        raw['platform-namespaces'] !== undefined
          ? v['platform-namespaces']
          : (() => {
              const ref = namespacedName(v['default-target-secret'], quiet);
              return ref ? [ref.namespace] : [];
            })(),
    },
    logLevel: logLevelOf(v, raw),
    shutdownTimeoutMs: v['shutdown-timeout'],
    readySettleTimeMs: v['ready-settle-time'],
  };
}

/**
 * Subject alternative names for a self-provisioned serving certificate: the
 * Service's cluster DNS names, the extra hosts and the URL host, split into
 * DNS names and IP addresses.
 */
export function servingCertificateNames(webhook: WebhookConfig): {
  dnsNames: string[];
  ipAddresses: string[];
} {
  const { namespace, name } = webhook.service;
  const all = [
    name,
    `${name}.${namespace}`,
    `${name}.${namespace}.svc`,
    `${name}.${namespace}.svc.cluster.local`,
    ...webhook.hosts,
    ...(webhook.urlHost ? [webhook.urlHost] : []),
  ];
  const unique = [...new Set(all)];
  return {
    dnsNames: unique.filter((h) => isIP(h) === 0),
    ipAddresses: unique.filter((h) => isIP(h) !== 0),
  };
}
