// The monitoring bundle (deploy/monitoring/, the chart's files/): generated
// from scripts/gen-monitoring.ts, the rules checked and unit-tested on
// synthetic series with the real promtool, the same objects in both trees.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  ALERTS,
  OUTPUTS,
  RULE_GROUPS,
  render as renderBundle,
} from '../../../scripts/gen-monitoring.ts';
import { promtoolBin } from '../../harness/tools.ts';
import { assertSameObjects, template } from './chart.ts';
import { render } from './manifests.ts';

const NS = 'harikube-system';
const VALIDATE = '/validate-harikube-info-v1-topologyconfig';

async function promtool(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(await promtoolBin(), args, {
      maxBuffer: 8 << 20,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      output: `${e.stdout ?? ''}${e.stderr ?? ''}`,
    };
  }
}

interface Series {
  series: string;
  values: string;
}
interface AlertCase {
  name: string;
  input: Series[];
  /** The alert's labels besides alertname and severity, for each firing alert; [] when none fires. */
  firing: Record<string, string>[];
  evalTime?: string;
}

const series = (name: string, labels: Record<string, string>, values: string): Series => ({
  series: `${name}{${Object.entries({ namespace: NS, ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`,
  values,
});

// For each alert: a case that fires and one that must not (too few errors, too short, ...).
const CASES: Record<string, AlertCase[]> = {
  TopologyWebhookErrors: [
    {
      name: '10% of reviews fail with 500 for 20 minutes',
      input: [
        series(
          'controller_runtime_webhook_requests_total',
          { webhook: VALIDATE, code: '200' },
          '0+540x30',
        ),
        series(
          'controller_runtime_webhook_requests_total',
          { webhook: VALIDATE, code: '500' },
          '0+60x30',
        ),
      ],
      firing: [{ namespace: NS, webhook: VALIDATE }],
    },
    {
      name: '1% of reviews fail: below the threshold',
      input: [
        series(
          'controller_runtime_webhook_requests_total',
          { webhook: VALIDATE, code: '200' },
          '0+594x30',
        ),
        series(
          'controller_runtime_webhook_requests_total',
          { webhook: VALIDATE, code: '500' },
          '0+6x30',
        ),
      ],
      firing: [],
    },
  ],
  TopologyWebhookSlow: [
    {
      name: 'every review takes 2-5 s',
      input: [
        ['1', '0'],
        ['10', '0+60x30'],
        ['+Inf', '0+60x30'],
      ].map(([le, values]) =>
        series(
          'controller_runtime_webhook_latency_seconds_bucket',
          { webhook: VALIDATE, le: le! },
          values!,
        ),
      ),
      firing: [{ namespace: NS, webhook: VALIDATE }],
    },
    {
      name: 'reviews take under 10 ms',
      input: [
        ['0.01', '0+60x30'],
        ['1', '0+60x30'],
        ['+Inf', '0+60x30'],
      ].map(([le, values]) =>
        series(
          'controller_runtime_webhook_latency_seconds_bucket',
          { webhook: VALIDATE, le: le! },
          values!,
        ),
      ),
      firing: [],
    },
  ],
  TopologyReconcileErrors: [
    {
      name: 'a reconcile fails every minute for 30 minutes',
      input: [
        series(
          'controller_runtime_reconcile_errors_total',
          { controller: 'topologyconfig' },
          '0+1x30',
        ),
      ],
      firing: [{ namespace: NS }],
      evalTime: '30m',
    },
    {
      name: 'one failure long ago, none since',
      input: [
        series(
          'controller_runtime_reconcile_errors_total',
          { controller: 'topologyconfig' },
          '0 1 1x40',
        ),
      ],
      firing: [],
      evalTime: '40m',
    },
  ],
  TopologyConfigsInError: [
    {
      name: 'two configs in Error for 20 minutes',
      input: [series('topology_configs', { state: 'Error', pod: 'a' }, '2x30')],
      firing: [{ namespace: NS }],
    },
    {
      name: 'a config in Error for 5 minutes only',
      input: [series('topology_configs', { state: 'Error', pod: 'a' }, '0x14 1x5 0x10')],
      firing: [],
    },
  ],
  TopologyNoLeader: [
    {
      name: 'both replicas are standbys for 10 minutes',
      input: [
        series('topology_leader', { pod: 'a' }, '0x30'),
        series('topology_leader', { pod: 'b' }, '0x30'),
      ],
      firing: [{ namespace: NS }],
    },
    {
      name: 'the Lease moves from one replica to the other',
      input: [
        series('topology_leader', { pod: 'a' }, '1x10 0x20'),
        series('topology_leader', { pod: 'b' }, '0x10 1x20'),
      ],
      firing: [],
    },
  ],
  TopologyWebhookCertificateExpiresSoon: [
    {
      // At eval time 2h (7200 s) the certificate expires at 3 days.
      name: 'the certificate expires in 3 days and is not renewed',
      input: [
        series(
          'topology_webhook_certificate_expiration_timestamp_seconds',
          { pod: 'a' },
          `${7200 + 3 * 86400}x150`,
        ),
      ],
      firing: [{ namespace: NS }],
      evalTime: '2h',
    },
    {
      name: 'the certificate has 100 days left',
      input: [
        series(
          'topology_webhook_certificate_expiration_timestamp_seconds',
          { pod: 'a' },
          `${100 * 86400}x150`,
        ),
      ],
      firing: [],
      evalTime: '2h',
    },
  ],
  TopologyMergedSecretNearSizeLimit: [
    {
      name: 'the largest Secret holds 95% of the limit',
      input: [
        series('topology_target_secret_largest_size_bytes', { pod: 'a' }, '996147x30'),
        series('topology_target_secret_size_limit_bytes', { pod: 'a' }, '1048576x30'),
      ],
      firing: [{ namespace: NS }],
    },
    {
      name: 'the largest Secret holds half the limit',
      input: [
        series('topology_target_secret_largest_size_bytes', { pod: 'a' }, '524288x30'),
        series('topology_target_secret_size_limit_bytes', { pod: 'a' }, '1048576x30'),
      ],
      firing: [],
    },
  ],
};

describe('monitoring bundle', () => {
  test('deploy/monitoring and the chart files are exactly what scripts/gen-monitoring.ts generates', () => {
    for (const [path, text] of Object.entries(renderBundle()))
      assert.equal(
        readFileSync(path, 'utf8'),
        text,
        `${path} is stale: run npx node scripts/gen-monitoring.ts`,
      );
  });

  test('the chart with monitoring on renders deploy/ plus deploy/monitoring', async () => {
    const [chart, kustomize, monitoring] = await Promise.all([
      template(
        {
          monitoring: {
            serviceMonitor: { enabled: true },
            prometheusRule: { enabled: true },
            dashboard: { enabled: true },
          },
        },
        ['--skip-tests'],
      ),
      render('deploy'),
      render('deploy/monitoring'),
    ]);
    assertSameObjects(chart, [...kustomize.filter((o) => o.kind !== 'Namespace'), ...monitoring]);
  });

  test('promtool check rules accepts the rules (expressions and annotation templates)', async () => {
    const result = await promtool(['check', 'rules', OUTPUTS.chartRules]);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  test('every alert there is covered by a firing and a quiet case below', () => {
    assert.deepEqual(Object.keys(CASES).sort(), ALERTS.map((a) => a.alert).sort());
  });

  test('promtool test rules: each alert fires on its synthetic series, and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    try {
      // Annotations are templates over $value; the cases check expressions, durations and
      // labels, so the rules under test carry none (check rules above covers them).
      const rulesFile = join(dir, 'rules.yaml');
      writeFileSync(
        rulesFile,
        stringify({
          groups: RULE_GROUPS.map((g) => ({
            ...g,
            rules: g.rules.map(({ annotations: _annotations, ...rule }) => rule),
          })),
        }),
      );
      const severity = new Map(ALERTS.map((a) => [a.alert, a.labels.severity]));
      const tests = Object.entries(CASES).flatMap(([alertname, cases]) =>
        cases.map((c) => ({
          name: `${alertname}: ${c.name}`,
          interval: '1m',
          input_series: c.input,
          alert_rule_test: [
            {
              eval_time: c.evalTime ?? '20m',
              alertname,
              exp_alerts: c.firing.map((labels) => ({
                exp_labels: { ...labels, severity: severity.get(alertname) },
              })),
            },
          ],
        })),
      );
      const testsFile = join(dir, 'tests.yaml');
      writeFileSync(
        testsFile,
        stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests }),
      );
      const result = await promtool(['test', 'rules', testsFile]);
      assert.equal(result.code, 0, result.output);
      assert.match(result.output, /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('promtool test rules fails when an alert does not fire as expected (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    try {
      writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: RULE_GROUPS }));
      const tests = {
        rule_files: [join(dir, 'rules.yaml')],
        tests: [
          {
            interval: '1m',
            input_series: [series('topology_leader', { pod: 'a' }, '1x30')],
            alert_rule_test: [
              {
                eval_time: '20m',
                alertname: 'TopologyNoLeader',
                exp_alerts: [{ exp_labels: { namespace: NS, severity: 'critical' } }],
              },
            ],
          },
        ],
      };
      writeFileSync(join(dir, 'tests.yaml'), stringify(tests));
      const result = await promtool(['test', 'rules', join(dir, 'tests.yaml')]);
      assert.notEqual(result.code, 0, result.output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
