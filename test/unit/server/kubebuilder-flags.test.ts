// The image as a drop-in for the seed's operator: the exact argument lists of
// the seed's Deployment and of HariKube's Helm chart (as data) parse, each flag
// with kubebuilder's meaning.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/server/config.ts';

const work = mkdtempSync(join(tmpdir(), 'kubebuilder-flags-'));
after(() => rmSync(work, { recursive: true, force: true }));
/** A directory with the two files a kubebuilder cert volume holds (only their presence is checked here). */
function certDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const file of ['tls.crt', 'tls.key']) writeFileSync(join(dir, file), 'x');
  return dir;
}
const env = { POD_NAMESPACE: 'harikube-system' };

// ../shared/seed: the seed operator's Deployment.
const SEED_ARGS = ['--leader-elect', '--health-probe-bind-address=:8081'];
// HariKube's Helm chart (kubebuilder's scaffold with the cert-manager options on).
const chartArgs = () => [
  '--metrics-bind-address=:8443',
  '--leader-elect',
  '--health-probe-bind-address=:8081',
  '--metrics-secure',
  `--webhook-cert-path=${certDir('webhook-certs')}`,
  `--metrics-cert-path=${certDir('metrics-certs')}`,
];

describe("kubebuilder's flags", () => {
  test("the seed Deployment's arguments: leader election, probes on :8081", () => {
    const config = parseConfig(SEED_ARGS, env);
    assert.equal(config.leaderElection.enabled, true);
    assert.equal(config.leaderElection.namespace, 'harikube-system');
    assert.deepEqual(config.healthProbeBindAddress, { host: '', port: 8081 });
    assert.deepEqual(config.webhook.bindAddress, { host: '', port: 9443 }, 'webhook port 9443');
  });

  test("HariKube's chart arguments: secure metrics on :8443 with their own certificate, webhook certificate from files", () => {
    const config = parseConfig(chartArgs(), env);
    assert.deepEqual(config.metricsBindAddress, { host: '', port: 8443 });
    assert.equal(config.metricsSecure, true);
    assert.equal(config.metricsCert?.path, join(work, 'metrics-certs'));
    assert.equal(config.metricsCert?.certName, 'tls.crt');
    assert.equal(config.webhook.certPath, join(work, 'webhook-certs'));
    assert.equal(config.leaderElection.enabled, true);
  });

  test('booleans take Go-style values: --metrics-secure=false serves plain HTTP', () => {
    assert.equal(parseConfig(['--metrics-secure=false'], env).metricsSecure, false);
    assert.equal(parseConfig(['--leader-elect=true'], env).leaderElection.enabled, true);
  });

  test('--enable-http2 is off by default; true is refused with the reason', () => {
    parseConfig(['--enable-http2=false'], env);
    assert.throws(
      () => parseConfig(['--enable-http2'], env),
      (e: unknown) => e instanceof ConfigError && /HTTP\/1\.1 only/.test(e.message),
    );
  });

  test('--metrics-cert-path needs its files and --metrics-secure', () => {
    assert.throws(
      () => parseConfig([`--metrics-cert-path=${join(work, 'none')}`], env),
      /--metrics-cert-path: .* is not a readable directory/,
    );
    assert.throws(
      () => parseConfig([`--metrics-cert-path=${certDir('m2')}`, '--metrics-secure=false'], env),
      /needs --metrics-secure/,
    );
  });

  for (const [args, level] of [
    [['--zap-log-level=debug'], 'debug'],
    [['--zap-log-level=error'], 'error'],
    [['--zap-log-level=panic'], 'fatal'],
    [['--zap-log-level=1'], 'debug'],
    [['--zap-log-level=3'], 'trace'],
    [['--zap-devel'], 'debug'],
    [['--zap-devel', '--log-level=warn'], 'warn'],
    [['--zap-log-level=info', '--log-level=error'], 'info'],
  ] as const) {
    test(`${args.join(' ')} logs at ${level}`, () => {
      assert.equal(parseConfig([...args], env).logLevel, level);
    });
  }

  test("the other --zap-* flags take zap's values and nothing else", () => {
    parseConfig(
      ['--zap-encoder=console', '--zap-stacktrace-level=error', '--zap-time-encoding=rfc3339nano'],
      env,
    );
    for (const bad of ['--zap-encoder=xml', '--zap-time-encoding=unix', '--zap-log-level=loud'])
      assert.throws(() => parseConfig([bad], env), ConfigError, bad);
  });
});
