import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBindAddress, parseDuration } from '../../../src/flags/values.ts';
import {
  ConfigError,
  parseConfig,
  servingCertificateNames,
  usage,
} from '../../../src/server/config.ts';

function problemsOf(argv: string[], env: Record<string, string | undefined> = {}): string[] {
  try {
    parseConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig defaults', () => {
  test('no flags and no env give the documented defaults', () => {
    assert.deepEqual(parseConfig([], {}), {
      help: false,
      kubeconfig: undefined,
      context: undefined,
      webhook: {
        bindAddress: { host: '', port: 9443 },
        certPath: undefined,
        certName: 'tls.crt',
        keyName: 'tls.key',
        configName: 'topology-webhook',
        service: { namespace: 'harikube-system', name: 'topology-webhook' },
        hosts: [],
        urlHost: undefined,
        certSecret: { namespace: 'harikube-system', name: 'topology-webhook-tls' },
        certValidityMs: 365 * 86_400_000,
      },
      healthProbeBindAddress: { host: '', port: 8081 },
      metricsBindAddress: { host: '', port: 8443 },
      metricsSecure: true,
      metricsCert: undefined,
      leaderElection: {
        enabled: false,
        namespace: undefined,
        id: 'topology-webhook.harikube.info',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      policy: {
        allowedTargetSecrets: ['harikube/topology-config'],
        defaultTargetSecret: 'harikube/topology-config',
        allowCrossNamespaceDecryptSecret: false,
        // The namespace of the default target Secret.
        platformNamespaces: ['harikube'],
      },
      logLevel: 'info',
      shutdownTimeoutMs: 25_000,
      readySettleTimeMs: 5_000,
    });
  });
});

describe('parseConfig flags', () => {
  test('every flag is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'h5-config-'));
    try {
      writeFileSync(join(dir, 'serving.pem'), 'x');
      writeFileSync(join(dir, 'serving-key.pem'), 'x');
      const config = parseConfig(
        [
          '--kubeconfig=/home/me/.kube/config',
          '--context=staging',
          '--webhook-bind-address=127.0.0.1:10443',
          '--health-probe-bind-address=[::1]:18081',
          '--metrics-bind-address=0',
          '--metrics-secure=false',
          '--leader-elect',
          '--leader-election-namespace=ops',
          '--leader-election-id=my-lease',
          '--leader-elect-lease-duration=1m30s',
          '--leader-elect-renew-deadline=1m',
          '--leader-elect-retry-period=500ms',
          `--webhook-cert-path=${dir}`,
          '--webhook-cert-name=serving.pem',
          '--webhook-cert-key=serving-key.pem',
          '--webhook-config-name=my-hooks',
          '--webhook-service=ops/hooks',
          '--webhook-host=127.0.0.1,localhost',
          '--webhook-host',
          'hooks.example.com',
          '--webhook-url-host=10.0.0.7',
          '--webhook-cert-secret=ops/hooks-tls',
          '--webhook-cert-validity=720h',
          '--allowed-target-secrets=harikube/topology-config,team-a/*',
          '--allowed-target-secrets=team-b/routes',
          '--default-target-secret=team-b/routes',
          '--allow-cross-namespace-decrypt-secret',
          '--platform-namespaces=harikube,ops',
          '--log-level=debug',
          '--shutdown-timeout=40s',
          '--ready-settle-time=0',
        ],
        {},
      );
      assert.deepEqual(config, {
        help: false,
        kubeconfig: '/home/me/.kube/config',
        context: 'staging',
        webhook: {
          bindAddress: { host: '127.0.0.1', port: 10443 },
          certPath: dir,
          certName: 'serving.pem',
          keyName: 'serving-key.pem',
          configName: 'my-hooks',
          service: { namespace: 'ops', name: 'hooks' },
          hosts: ['127.0.0.1', 'localhost', 'hooks.example.com'],
          urlHost: '10.0.0.7',
          certSecret: { namespace: 'ops', name: 'hooks-tls' },
          certValidityMs: 30 * 86_400_000,
        },
        healthProbeBindAddress: { host: '::1', port: 18081 },
        metricsBindAddress: undefined,
        metricsSecure: false,
        metricsCert: undefined,
        leaderElection: {
          enabled: true,
          namespace: 'ops',
          id: 'my-lease',
          leaseDurationMs: 90_000,
          renewDeadlineMs: 60_000,
          retryPeriodMs: 500,
        },
        policy: {
          allowedTargetSecrets: ['harikube/topology-config', 'team-a/*', 'team-b/routes'],
          defaultTargetSecret: 'team-b/routes',
          allowCrossNamespaceDecryptSecret: true,
          platformNamespaces: ['harikube', 'ops'],
        },
        logLevel: 'debug',
        shutdownTimeoutMs: 40_000,
        readySettleTimeMs: 0,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Go-style --flag=true / --flag=false booleans are accepted', () => {
    const on = parseConfig(['--leader-elect=true', '--leader-election-namespace=ops'], {});
    assert.equal(on.leaderElection.enabled, true);
    const off = parseConfig(
      ['--leader-elect=false', '--allow-cross-namespace-decrypt-secret=false'],
      {},
    );
    assert.equal(off.leaderElection.enabled, false);
    assert.equal(off.policy.allowCrossNamespaceDecryptSecret, false);
  });

  test('the health probe server can be disabled with "0"', () => {
    assert.equal(
      parseConfig(['--health-probe-bind-address=0'], {}).healthProbeBindAddress,
      undefined,
    );
  });

  test('--help returns help even with other problems', () => {
    assert.equal(parseConfig(['--help'], {}).help, true);
    assert.equal(parseConfig(['--help', '--log-level=loud'], {}).help, true);
    assert.equal(parseConfig(['--nonsense', '--help'], {}).help, true);
  });
});

describe('the shared TLS Secret of self-provisioned mode', () => {
  const cases: [string, string[], Record<string, string>, { namespace: string; name: string }][] = [
    [
      'default: <webhook-config-name>-tls in the pod namespace',
      ['--webhook-config-name=hooks', '--webhook-service=svc-ns/hooks'],
      { POD_NAMESPACE: 'pod-ns' },
      { namespace: 'pod-ns', name: 'hooks-tls' },
    ],
    [
      '--leader-election-namespace wins over POD_NAMESPACE',
      ['--leader-election-namespace=flag-ns'],
      { POD_NAMESPACE: 'pod-ns' },
      { namespace: 'flag-ns', name: 'topology-webhook-tls' },
    ],
    [
      "without a pod namespace: the webhook Service's namespace",
      ['--webhook-service=svc-ns/hooks'],
      {},
      { namespace: 'svc-ns', name: 'topology-webhook-tls' },
    ],
    [
      'a name alone goes into the pod namespace',
      ['--webhook-cert-secret=my-tls'],
      { POD_NAMESPACE: 'pod-ns' },
      { namespace: 'pod-ns', name: 'my-tls' },
    ],
    [
      'namespace/name is taken as given',
      ['--webhook-cert-secret=other/my-tls'],
      { POD_NAMESPACE: 'pod-ns' },
      { namespace: 'other', name: 'my-tls' },
    ],
  ];
  for (const [name, argv, env, expected] of cases) {
    test(name, () => assert.deepEqual(parseConfig(argv, env).webhook.certSecret, expected));
  }
});

describe('parseConfig environment fallbacks', () => {
  test('KUBECONFIG, POD_NAMESPACE and LOG_LEVEL are used when the flags are absent', () => {
    const config = parseConfig(['--leader-elect'], {
      KUBECONFIG: '/etc/kube/config',
      POD_NAMESPACE: 'harikube-system',
      LOG_LEVEL: 'warn',
    });
    assert.equal(config.kubeconfig, '/etc/kube/config');
    assert.equal(config.leaderElection.namespace, 'harikube-system');
    assert.equal(config.logLevel, 'warn');
  });

  test('flags win over the environment', () => {
    const config = parseConfig(
      ['--kubeconfig=/a', '--leader-election-namespace=ns-flag', '--log-level=error'],
      { KUBECONFIG: '/b', POD_NAMESPACE: 'ns-env', LOG_LEVEL: 'debug' },
    );
    assert.equal(config.kubeconfig, '/a');
    assert.equal(config.leaderElection.namespace, 'ns-flag');
    assert.equal(config.logLevel, 'error');
  });

  test('an empty environment variable counts as unset', () => {
    assert.equal(parseConfig([], { KUBECONFIG: '' }).kubeconfig, undefined);
  });
});

describe('parseConfig errors', () => {
  const cases: { name: string; argv: string[]; env?: Record<string, string>; problem: string }[] = [
    {
      name: 'unknown flag',
      argv: ['--metrics-insecure'],
      problem: "Unknown option '--metrics-insecure'",
    },
    {
      name: 'positional argument',
      argv: ['serve'],
      problem: "Unexpected argument 'serve'. This command does not take positional arguments",
    },
    {
      name: 'webhook address without a port',
      argv: ['--webhook-bind-address=9443'],
      problem:
        '--webhook-bind-address: "9443" is not an address of the form ":port", "host:port" or "[ipv6]:port"',
    },
    {
      name: 'webhook address cannot be disabled',
      argv: ['--webhook-bind-address=0'],
      problem:
        '--webhook-bind-address: "0" is not an address of the form ":port", "host:port" or "[ipv6]:port"',
    },
    {
      name: 'port out of range',
      argv: ['--metrics-bind-address=:70000'],
      problem:
        '--metrics-bind-address: ":70000" is not an address of the form ":port", "host:port" or "[ipv6]:port", or "0" to disable',
    },
    {
      name: 'unbracketed IPv6',
      argv: ['--health-probe-bind-address=::1:8081'],
      problem:
        '--health-probe-bind-address: "::1:8081" is not an address of the form ":port", "host:port" or "[ipv6]:port", or "0" to disable',
    },
    {
      name: 'bad duration',
      argv: ['--leader-elect-lease-duration=15'],
      problem:
        '--leader-elect-lease-duration: "15" is not a duration such as "15s", "1m30s" or "500ms"',
    },
    {
      name: 'zero duration',
      argv: ['--shutdown-timeout=0s'],
      problem: '--shutdown-timeout: must be greater than zero',
    },
    {
      name: 'renew deadline not shorter than the lease',
      argv: ['--leader-elect-renew-deadline=15s'],
      problem: '--leader-elect-renew-deadline must be shorter than --leader-elect-lease-duration',
    },
    {
      name: 'retry period not shorter than the renew deadline',
      argv: ['--leader-elect-retry-period=10s'],
      problem: '--leader-elect-retry-period must be shorter than --leader-elect-renew-deadline',
    },
    {
      name: 'leader election without a namespace',
      argv: ['--leader-elect'],
      problem:
        '--leader-elect needs --leader-election-namespace (or the POD_NAMESPACE environment variable)',
    },
    {
      name: 'bad leader-election namespace',
      argv: ['--leader-election-namespace=Ops'],
      problem: '--leader-election-namespace: "Ops" is not a valid namespace name (RFC 1123 label)',
    },
    {
      name: 'bad leader-election namespace from the environment',
      argv: [],
      env: { POD_NAMESPACE: 'a_b' },
      problem: '--leader-election-namespace: "a_b" is not a valid namespace name (RFC 1123 label)',
    },
    {
      name: 'bad lease name',
      argv: ['--leader-election-id=My_Lease'],
      problem: '--leader-election-id: "My_Lease" is not a valid Lease name (RFC 1123 subdomain)',
    },
    {
      name: 'missing cert directory',
      argv: ['--webhook-cert-path=/nonexistent/h5/certs'],
      problem: '--webhook-cert-path: "/nonexistent/h5/certs" is not a readable directory',
    },
    {
      name: 'cert file name with a slash',
      argv: ['--webhook-cert-name=../tls.crt'],
      problem: '--webhook-cert-name: "../tls.crt" must be a file name inside --webhook-cert-path',
    },
    {
      name: 'bad shared TLS Secret name',
      argv: ['--webhook-cert-secret=My_TLS'],
      problem: '--webhook-cert-secret: "My_TLS" is not a valid name (RFC 1123 subdomain)',
    },
    {
      name: 'bad shared TLS Secret namespace',
      argv: ['--webhook-cert-secret=Ops/tls'],
      problem:
        '--webhook-cert-secret: namespace "Ops" is not a valid namespace name (RFC 1123 label)',
    },
    {
      name: 'certificate validity too short to rotate',
      argv: ['--webhook-cert-validity=30s'],
      problem: '--webhook-cert-validity: must be at least 1m',
    },
    {
      name: 'bad webhook configuration name',
      argv: ['--webhook-config-name=Hooks!'],
      problem: '--webhook-config-name: "Hooks!" is not a valid name (RFC 1123 subdomain)',
    },
    {
      name: 'webhook service without a namespace',
      argv: ['--webhook-service=topology-webhook'],
      problem: '--webhook-service: "topology-webhook" is not of the form namespace/name',
    },
    {
      name: 'webhook service name with a dot',
      argv: ['--webhook-service=ops/topology.webhook'],
      problem:
        '--webhook-service: name "topology.webhook" is not a valid Service name (RFC 1035 label)',
    },
    {
      name: 'bad extra host',
      argv: ['--webhook-host=127.0.0.1,bad_host'],
      problem: '--webhook-host: "bad_host" is neither a DNS name nor an IP address',
    },
    {
      name: 'bad URL host',
      argv: ['--webhook-url-host=https://x'],
      problem: '--webhook-url-host: "https://x" is neither a DNS name nor an IP address',
    },
    {
      name: 'bad allowed pattern',
      argv: ['--allowed-target-secrets=harikube/topology-config,*/*'],
      problem: '--allowed-target-secrets: "*/*" does not start with a valid namespace name',
    },
    {
      name: 'bad allowed secret name',
      argv: ['--allowed-target-secrets=harikube/topology-config,team/Routes'],
      problem: '--allowed-target-secrets: name "Routes" is not a valid name (RFC 1123 subdomain)',
    },
    {
      name: 'bad default target secret',
      argv: ['--default-target-secret=harikube'],
      problem: '--default-target-secret: "harikube" is not of the form namespace/name',
    },
    {
      name: 'default target secret not allowed',
      argv: ['--default-target-secret=team-a/routes'],
      problem:
        '--default-target-secret: "team-a/routes" is not allowed by --allowed-target-secrets',
    },
    {
      name: 'bad log level',
      argv: ['--log-level=verbose'],
      problem:
        '--log-level: "verbose" is not one of fatal, error, warn, info, debug, trace, silent',
    },
    {
      name: 'bad log level from the environment',
      argv: [],
      env: { LOG_LEVEL: 'loud' },
      problem: '--log-level: "loud" is not one of fatal, error, warn, info, debug, trace, silent',
    },
    {
      name: 'value for a boolean flag',
      argv: ['--leader-elect=yes'],
      problem: "Option '--leader-elect' does not take an argument",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(problemsOf(c.argv, c.env), [c.problem]);
    });
  }

  test('every problem is reported at once', () => {
    const problems = problemsOf([
      '--webhook-bind-address=nope',
      '--log-level=loud',
      '--shutdown-timeout=soon',
    ]);
    assert.equal(problems.length, 3);
    const err = new ConfigError(problems);
    assert.match(err.message, /^invalid configuration:\n {2}- --webhook-bind-address/);
  });

  test('a cert directory without the key file is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'h5-config-'));
    try {
      writeFileSync(join(dir, 'tls.crt'), 'x');
      assert.deepEqual(problemsOf([`--webhook-cert-path=${dir}`]), [
        `--webhook-cert-path: ${JSON.stringify(join(dir, 'tls.key'))} is missing or unreadable`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseDuration', () => {
  const cases: [string, number | undefined][] = [
    ['0', 0],
    ['15s', 15_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['.5s', 500],
    ['', undefined],
    ['15', undefined],
    ['-1s', undefined],
    ['1d', undefined],
    ['s', undefined],
    ['1s ', undefined],
  ];
  for (const [text, ms] of cases) {
    test(JSON.stringify(text), () => assert.equal(parseDuration(text), ms));
  }
});

describe('parseBindAddress', () => {
  const cases: [string, ReturnType<typeof parseBindAddress>][] = [
    [':9443', { host: '', port: 9443 }],
    ['0.0.0.0:8081', { host: '0.0.0.0', port: 8081 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['webhook.local:443', { host: 'webhook.local', port: 443 }],
    ['[::]:8443', { host: '::', port: 8443 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['9443', undefined],
    [':', undefined],
    [':65536', undefined],
    ['[127.0.0.1]:80', undefined],
    ['host:80:81', undefined],
    ['bad_host:80', undefined],
  ];
  for (const [text, expected] of cases) {
    test(JSON.stringify(text), () => assert.deepEqual(parseBindAddress(text), expected));
  }
});

test('servingCertificateNames: Service DNS names, extra hosts and the URL host, split by kind', () => {
  const config = parseConfig(
    [
      '--webhook-service=ops/hooks',
      '--webhook-host=127.0.0.1,localhost,hooks',
      '--webhook-url-host=::1',
    ],
    {},
  );
  assert.deepEqual(servingCertificateNames(config.webhook), {
    dnsNames: ['hooks', 'hooks.ops', 'hooks.ops.svc', 'hooks.ops.svc.cluster.local', 'localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
  });
});

test('usage lists every flag with its default and environment variable', () => {
  const text = usage();
  for (const flag of [
    '--kubeconfig=PATH',
    '--context=NAME',
    '--webhook-bind-address=ADDR',
    '--health-probe-bind-address=ADDR',
    '--metrics-bind-address=ADDR',
    '--leader-elect\n',
    '--leader-election-namespace=NS',
    '--leader-election-id=NAME',
    '--leader-elect-lease-duration=DURATION',
    '--leader-elect-renew-deadline=DURATION',
    '--leader-elect-retry-period=DURATION',
    '--webhook-cert-path=DIR',
    '--webhook-cert-name=FILE',
    '--webhook-cert-key=FILE',
    '--webhook-cert-secret=[NS/]NAME',
    '--webhook-cert-validity=DURATION',
    '--webhook-config-name=NAME',
    '--webhook-service=NS/NAME',
    '--webhook-host=HOST',
    '--webhook-url-host=HOST',
    '--allowed-target-secrets=NS/NAME',
    '--default-target-secret=NS/NAME',
    '--allow-cross-namespace-decrypt-secret\n',
    '--log-level=LEVEL',
    '--shutdown-timeout=DURATION',
    '--ready-settle-time=DURATION',
    '--help\n',
  ]) {
    assert.ok(text.includes(`  ${flag}`), `usage lacks ${flag}`);
  }
  assert.match(text, /--log-level=LEVEL\n.*\(default "info"; env LOG_LEVEL\)/);
  assert.match(text, /--leader-election-namespace=NS\n.*\(env POD_NAMESPACE\)/);
});
