// Command-line configuration of the server. Flag names follow controller-runtime
// operators (kubebuilder scaffolds) where one exists, so a platform team's
// Deployment manifests and habits carry over. Parsing is pure: argv and env are
// passed in; the only side effect is checking that a given cert directory is
// readable, because failing at start-up beats failing at the first handshake.

import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NamespacedName } from '../resource/names.ts';
import { parseNamespacedName } from '../resource/names.ts';
import { dns1123LabelProblem, dns1123SubdomainProblem } from '../rules/formats.ts';
import { matchesAnyTargetPattern } from '../rules/policy.ts';

export interface BindAddress {
  /** Host to bind, without IPv6 brackets; '' means every interface. */
  host: string;
  port: number;
}

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

export interface PolicyConfig {
  /** `namespace/name` or `namespace/*` patterns a config's targetSecret must match. */
  allowedTargetSecrets: string[];
  defaultTargetSecret: string;
  allowCrossNamespaceDecryptSecret: boolean;
  /** Namespaces whose configs route anything but the deny list; `*`: every namespace. */
  platformNamespaces: string[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  help: boolean;
  /** Path of a kubeconfig file; undefined: in-cluster configuration. */
  kubeconfig: string | undefined;
  webhook: WebhookConfig;
  /** undefined when disabled with "0". */
  healthProbeBindAddress: BindAddress | undefined;
  /** undefined when disabled with "0". */
  metricsBindAddress: BindAddress | undefined;
  /** HTTPS with TokenReview + SubjectAccessReview; false: plain HTTP, no authentication. */
  metricsSecure: boolean;
  leaderElection: LeaderElectionConfig;
  policy: PolicyConfig;
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

interface FlagSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  default?: string | boolean;
  env?: string;
  value?: string;
  help: string;
}

// One table drives parsing, defaults, env fallbacks and --help.
const FLAGS: Record<string, FlagSpec> = {
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    value: 'PATH',
    help: 'kubeconfig file; without it the in-cluster service account is used',
  },
  'webhook-bind-address': {
    type: 'string',
    default: ':9443',
    value: 'ADDR',
    help: 'address the HTTPS admission webhook listens on (":port", "host:port", "[::1]:port")',
  },
  'health-probe-bind-address': {
    type: 'string',
    default: ':8081',
    value: 'ADDR',
    help: 'address of the HTTP /healthz and /readyz endpoints; "0" disables them',
  },
  'metrics-bind-address': {
    type: 'string',
    default: ':8443',
    value: 'ADDR',
    help: 'address of the HTTPS /metrics endpoint (TokenReview + SubjectAccessReview); "0" disables it',
  },
  'metrics-secure': {
    type: 'boolean',
    default: true,
    help: 'serve /metrics over HTTPS to callers that pass TokenReview + SubjectAccessReview; --metrics-secure=false serves plain HTTP to anyone who reaches the port',
  },
  'leader-elect': {
    type: 'boolean',
    default: false,
    help: 'elect a leader with a Lease; only the leader reconciles (every replica serves the webhook)',
  },
  'leader-election-namespace': {
    type: 'string',
    env: 'POD_NAMESPACE',
    value: 'NS',
    help: 'namespace of the leader-election Lease',
  },
  'leader-election-id': {
    type: 'string',
    default: 'topology-webhook.harikube.info',
    value: 'NAME',
    help: 'name of the leader-election Lease',
  },
  'leader-elect-lease-duration': {
    type: 'string',
    default: '15s',
    value: 'DURATION',
    help: 'how long non-leaders wait before taking over an unrenewed Lease',
  },
  'leader-elect-renew-deadline': {
    type: 'string',
    default: '10s',
    value: 'DURATION',
    help: 'how long the leader keeps trying to renew before it steps down',
  },
  'leader-elect-retry-period': {
    type: 'string',
    default: '2s',
    value: 'DURATION',
    help: 'interval between leader-election attempts',
  },
  'webhook-cert-path': {
    type: 'string',
    value: 'DIR',
    help: 'directory with the serving certificate (re-read on change); without it the replicas share a self-made CA and certificate through --webhook-cert-secret and inject the CA as caBundle',
  },
  'webhook-cert-name': {
    type: 'string',
    default: 'tls.crt',
    value: 'FILE',
    help: 'certificate file name in --webhook-cert-path',
  },
  'webhook-cert-key': {
    type: 'string',
    default: 'tls.key',
    value: 'FILE',
    help: 'private key file name in --webhook-cert-path',
  },
  'webhook-cert-secret': {
    type: 'string',
    value: '[NS/]NAME',
    help: 'without --webhook-cert-path: the Secret holding the CA and serving certificate that all replicas share (made by the first replica, rotated by whichever replica wins the update); default "<webhook-config-name>-tls" in --leader-election-namespace (POD_NAMESPACE), else in the namespace of --webhook-service',
  },
  'webhook-cert-validity': {
    type: 'string',
    default: '8760h',
    value: 'DURATION',
    help: 'without --webhook-cert-path: lifetime of the self-provisioned CA and certificate; renewed with a third of it left (at least "1m")',
  },
  'webhook-config-name': {
    type: 'string',
    default: 'topology-webhook',
    value: 'NAME',
    help: 'name of the Validating- and MutatingWebhookConfiguration that get the caBundle',
  },
  'webhook-service': {
    type: 'string',
    default: 'harikube-system/topology-webhook',
    value: 'NS/NAME',
    help: 'Service in front of the webhook; its DNS names go into a self-provisioned certificate',
  },
  'webhook-host': {
    type: 'string',
    multiple: true,
    value: 'HOST[,HOST]',
    help: 'extra DNS name or IP address for a self-provisioned certificate (repeatable)',
  },
  'webhook-url-host': {
    type: 'string',
    value: 'HOST',
    help: 'host the API server calls the webhook at by URL (local runs); added to a self-provisioned certificate',
  },
  'allowed-target-secrets': {
    type: 'string',
    multiple: true,
    default: 'harikube/topology-config',
    value: 'NS/NAME[,NS/*]',
    help: 'Secrets a TopologyConfig may name as spec.targetSecret ("ns/*": any in ns)',
  },
  'default-target-secret': {
    type: 'string',
    default: 'harikube/topology-config',
    value: 'NS/NAME',
    help: 'spec.targetSecret set by the mutating webhook when omitted',
  },
  'allow-cross-namespace-decrypt-secret': {
    type: 'boolean',
    default: false,
    help: "let spec.endpointDecryptSecret name a Secret outside the config's own namespace",
  },
  'platform-namespaces': {
    type: 'string',
    multiple: true,
    value: 'NS[,NS]',
    help: 'namespaces whose TopologyConfigs may route anything (but the keys nobody routes); every other namespace is a tenant that routes only what a TopologyRoutingGrant allows; "*": every namespace (no tenants); default: the namespace of --default-target-secret',
  },
  'log-level': {
    type: 'string',
    default: 'info',
    env: 'LOG_LEVEL',
    value: 'LEVEL',
    help: `one of ${LOG_LEVELS.join(', ')}`,
  },
  'ready-settle-time': {
    type: 'string',
    default: '5s',
    value: 'DURATION',
    help: 'how long after a config is Active (its entry in the Secret) its Ready condition turns True, so the middleware has reloaded the Secret; 0 for at once',
  },
  'shutdown-timeout': {
    type: 'string',
    default: '25s',
    value: 'DURATION',
    help: 'on SIGTERM, how long to drain in-flight requests before exiting',
  },
  help: { type: 'boolean', default: false, help: 'print this help and exit' },
};

export function usage(): string {
  const lines = ['Usage: topology-webhook [flags]', '', 'Flags:'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const head = spec.type === 'boolean' ? `--${name}` : `--${name}=${spec.value ?? 'VALUE'}`;
    const extras: string[] = [];
    if (spec.default !== undefined && spec.default !== false)
      extras.push(`default ${JSON.stringify(spec.default)}`);
    if (spec.env) extras.push(`env ${spec.env}`);
    const suffix = extras.length > 0 ? ` (${extras.join('; ')})` : '';
    lines.push(`  ${head}`, `      ${spec.help}${suffix}`);
  }
  return `${lines.join('\n')}\n`;
}

// Go's flag package accepts `--flag=true|false` for booleans; node's parseArgs
// does not, and manifests written for Go operators use both forms.
function normalizeBooleans(argv: string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(true|false)$/.exec(arg);
    const spec = m ? FLAGS[m[1]!] : undefined;
    if (m && spec?.type === 'boolean') {
      out.push(m[2] === 'true' ? `--${m[1]}` : `--no-${m[1]}`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

type RawValues = Record<string, string | boolean | string[] | undefined>;

function readArgs(argv: string[]): RawValues {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(FLAGS)) {
    options[name] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  }
  try {
    const { values } = parseArgs({
      args: normalizeBooleans(argv),
      options,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    });
    return values as RawValues;
  } catch (err) {
    // parseArgs' messages name the flag and the problem; drop its hint about "--" to keep it short.
    const message = err instanceof Error ? err.message.split('. To specify')[0]! : String(err);
    throw new ConfigError([message]);
  }
}

/** A Go `time.Duration` string ("15s", "1m30s", "500ms", "0") in milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const unitMs: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    μs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  if (!/^(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/.test(text)) return undefined;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * unitMs[m[2]!]!;
    pos = part.lastIndex;
  }
  return total;
}

/** ":port", "host:port" or "[ipv6]:port"; undefined if malformed. */
export function parseBindAddress(text: string): BindAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.%a-zA-Z]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? { host: m[1], port } : undefined;
  const host = m[2]!;
  if (host !== '' && isIP(host) !== 4 && !isDnsSubdomain(host) && host !== 'localhost') {
    return undefined;
  }
  return { host, port };
}

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 label: namespaces. */
export const isDnsLabel = (value: string): boolean => dns1123LabelProblem(value) === undefined;

/** RFC 1123 subdomain: names of Secrets, Leases, webhook configurations. */
export const isDnsSubdomain = (value: string): boolean =>
  dns1123SubdomainProblem(value) === undefined;

function splitList(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function checkNamespacedName(
  flag: string,
  value: string,
  problems: string[],
  nameIsService = false,
): NamespacedName | undefined {
  const ref = parseNamespacedName(value);
  if (!ref) {
    problems.push(`--${flag}: ${JSON.stringify(value)} is not of the form namespace/name`);
    return undefined;
  }
  if (!isDnsLabel(ref.namespace)) {
    problems.push(
      `--${flag}: namespace ${JSON.stringify(ref.namespace)} is not a valid namespace name (RFC 1123 label)`,
    );
    return undefined;
  }
  const nameOk = nameIsService
    ? ref.name.length <= 63 && DNS_1035_LABEL.test(ref.name)
    : isDnsSubdomain(ref.name);
  if (!nameOk) {
    const rule = nameIsService
      ? 'a valid Service name (RFC 1035 label)'
      : 'a valid name (RFC 1123 subdomain)';
    problems.push(`--${flag}: name ${JSON.stringify(ref.name)} is not ${rule}`);
    return undefined;
  }
  return ref;
}

function isHost(value: string): boolean {
  return isIP(value) !== 0 || isDnsSubdomain(value.toLowerCase());
}

export function parseConfig(argv: string[], env: Record<string, string | undefined>): Config {
  // `--help` wins over any other problem, even an unknown flag.
  const wantsHelp = argv.includes('--help') || argv.includes('--help=true');
  let raw: RawValues;
  try {
    raw = readArgs(argv);
  } catch (err) {
    if (!wantsHelp) throw err;
    raw = { help: true };
  }
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = raw[name];
    if (typeof v === 'string') return v;
    const spec = FLAGS[name]!;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return typeof spec.default === 'string' ? spec.default : undefined;
  };
  const bool = (name: string): boolean => {
    const v = raw[name];
    return typeof v === 'boolean' ? v : FLAGS[name]!.default === true;
  };
  const list = (name: string): string[] => {
    const v = raw[name];
    if (Array.isArray(v)) return splitList(v);
    const d = FLAGS[name]!.default;
    return typeof d === 'string' ? splitList([d]) : [];
  };

  const address = (name: string, disableable: boolean): BindAddress | undefined => {
    const text = str(name)!;
    if (disableable && text === '0') return undefined;
    const parsed = parseBindAddress(text);
    if (!parsed) {
      problems.push(
        `--${name}: ${JSON.stringify(text)} is not an address of the form ":port", "host:port" or "[ipv6]:port"${disableable ? ', or "0" to disable' : ''}`,
      );
    }
    return parsed;
  };
  const duration = (name: string, zeroAllowed = false): number => {
    const text = str(name)!;
    const ms = parseDuration(text);
    if (ms === undefined) {
      problems.push(
        `--${name}: ${JSON.stringify(text)} is not a duration such as "15s", "1m30s" or "500ms"`,
      );
      return NaN;
    }
    if (ms < 0 || (ms === 0 && !zeroAllowed)) problems.push(`--${name}: must be greater than zero`);
    return ms;
  };

  const help = bool('help');

  const webhookAddress = address('webhook-bind-address', false);
  const healthProbeBindAddress = address('health-probe-bind-address', true);
  const metricsBindAddress = address('metrics-bind-address', true);

  const leaseDurationMs = duration('leader-elect-lease-duration');
  const renewDeadlineMs = duration('leader-elect-renew-deadline');
  const retryPeriodMs = duration('leader-elect-retry-period');
  if (renewDeadlineMs >= leaseDurationMs) {
    problems.push(
      '--leader-elect-renew-deadline must be shorter than --leader-elect-lease-duration',
    );
  }
  if (retryPeriodMs >= renewDeadlineMs) {
    problems.push('--leader-elect-retry-period must be shorter than --leader-elect-renew-deadline');
  }
  const leaderEnabled = bool('leader-elect');
  const leaderNamespace = str('leader-election-namespace');
  if (leaderNamespace !== undefined && !isDnsLabel(leaderNamespace)) {
    problems.push(
      `--leader-election-namespace: ${JSON.stringify(leaderNamespace)} is not a valid namespace name (RFC 1123 label)`,
    );
  } else if (leaderEnabled && leaderNamespace === undefined) {
    problems.push(
      '--leader-elect needs --leader-election-namespace (or the POD_NAMESPACE environment variable)',
    );
  }
  const leaderId = str('leader-election-id')!;
  if (!isDnsSubdomain(leaderId)) {
    problems.push(
      `--leader-election-id: ${JSON.stringify(leaderId)} is not a valid Lease name (RFC 1123 subdomain)`,
    );
  }

  const certPath = str('webhook-cert-path');
  const certName = str('webhook-cert-name')!;
  const keyName = str('webhook-cert-key')!;
  if (certPath !== undefined) {
    try {
      if (!statSync(certPath).isDirectory()) throw new Error('not a directory');
      accessSync(certPath, constants.R_OK | constants.X_OK);
      for (const file of [certName, keyName]) {
        try {
          accessSync(join(certPath, file), constants.R_OK);
        } catch {
          problems.push(
            `--webhook-cert-path: ${JSON.stringify(join(certPath, file))} is missing or unreadable`,
          );
        }
      }
    } catch {
      problems.push(`--webhook-cert-path: ${JSON.stringify(certPath)} is not a readable directory`);
    }
  }
  for (const [flag, file] of [
    ['webhook-cert-name', certName],
    ['webhook-cert-key', keyName],
  ] as const) {
    if (file === '' || file.includes('/'))
      problems.push(
        `--${flag}: ${JSON.stringify(file)} must be a file name inside --webhook-cert-path`,
      );
  }

  const configName = str('webhook-config-name')!;
  if (!isDnsSubdomain(configName)) {
    problems.push(
      `--webhook-config-name: ${JSON.stringify(configName)} is not a valid name (RFC 1123 subdomain)`,
    );
  }
  const service = checkNamespacedName('webhook-service', str('webhook-service')!, problems, true);
  const hosts = list('webhook-host');
  for (const host of hosts) {
    if (!isHost(host))
      problems.push(
        `--webhook-host: ${JSON.stringify(host)} is neither a DNS name nor an IP address`,
      );
  }
  const urlHost = str('webhook-url-host');
  if (urlHost !== undefined && !isHost(urlHost)) {
    problems.push(
      `--webhook-url-host: ${JSON.stringify(urlHost)} is neither a DNS name nor an IP address`,
    );
  }

  // The shared TLS Secret lives with the pods: the flag, else the pod's namespace, else the Service's.
  const certSecretFlag = str('webhook-cert-secret');
  const certSecretText = certSecretFlag ?? `${configName}-tls`;
  let certSecret: NamespacedName | undefined;
  if (certSecretFlag === undefined && !isDnsSubdomain(configName)) {
    // Derived from a bad --webhook-config-name, which is reported already.
  } else if (certSecretText.includes('/')) {
    certSecret = checkNamespacedName('webhook-cert-secret', certSecretText, problems);
  } else if (!isDnsSubdomain(certSecretText)) {
    problems.push(
      `--webhook-cert-secret: ${JSON.stringify(certSecretText)} is not a valid name (RFC 1123 subdomain)`,
    );
  } else {
    const podNamespace =
      leaderNamespace !== undefined && isDnsLabel(leaderNamespace) ? leaderNamespace : undefined;
    certSecret = {
      namespace: podNamespace ?? service?.namespace ?? 'harikube-system',
      name: certSecretText,
    };
  }
  const certValidityMs = duration('webhook-cert-validity');
  if (certValidityMs > 0 && certValidityMs < 60_000) {
    problems.push('--webhook-cert-validity: must be at least 1m');
  }

  const allowedTargetSecrets = list('allowed-target-secrets');
  for (const pattern of allowedTargetSecrets) {
    if (pattern.endsWith('/*')) {
      const ns = pattern.slice(0, -2);
      if (!isDnsLabel(ns))
        problems.push(
          `--allowed-target-secrets: ${JSON.stringify(pattern)} does not start with a valid namespace name`,
        );
    } else {
      checkNamespacedName('allowed-target-secrets', pattern, problems);
    }
  }
  const defaultTargetSecret = str('default-target-secret')!;
  const defaultRef = checkNamespacedName('default-target-secret', defaultTargetSecret, problems);
  if (defaultRef && !matchesAnyTargetPattern(allowedTargetSecrets, defaultRef)) {
    problems.push(
      `--default-target-secret: ${JSON.stringify(defaultTargetSecret)} is not allowed by --allowed-target-secrets`,
    );
  }

  const platformNamespaces = raw['platform-namespaces']
    ? list('platform-namespaces')
    : defaultRef
      ? [defaultRef.namespace]
      : [];
  for (const namespace of platformNamespaces) {
    if (namespace !== '*' && !isDnsLabel(namespace))
      problems.push(
        `--platform-namespaces: ${JSON.stringify(namespace)} is not a valid namespace name (RFC 1123 label) or "*"`,
      );
  }

  const logLevel = str('log-level')!;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(
      `--log-level: ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const shutdownTimeoutMs = duration('shutdown-timeout');
  const readySettleTimeMs = duration('ready-settle-time', true);

  // With --help the caller prints usage and exits; other problems do not matter then.
  if (problems.length > 0 && !help) throw new ConfigError(problems);

  return {
    help,
    kubeconfig: str('kubeconfig'),
    webhook: {
      bindAddress: webhookAddress ?? { host: '', port: 9443 },
      certPath,
      certName,
      keyName,
      configName,
      service: service ?? { namespace: 'harikube-system', name: 'topology-webhook' },
      hosts,
      urlHost,
      certSecret: certSecret ?? { namespace: 'harikube-system', name: `${configName}-tls` },
      certValidityMs,
    },
    healthProbeBindAddress,
    metricsBindAddress,
    metricsSecure: bool('metrics-secure'),
    leaderElection: {
      enabled: leaderEnabled,
      namespace: leaderNamespace,
      id: leaderId,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    policy: {
      allowedTargetSecrets,
      defaultTargetSecret,
      allowCrossNamespaceDecryptSecret: bool('allow-cross-namespace-decrypt-secret'),
      platformNamespaces,
    },
    logLevel: logLevel as LogLevel,
    shutdownTimeoutMs,
    readySettleTimeMs,
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
