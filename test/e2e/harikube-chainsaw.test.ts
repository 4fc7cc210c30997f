// End to end: the chainsaw tests of test/chainsaw/ (written in the shape of
// HariKube's published integration test of TopologyConfig), run by kyverno's
// chainsaw itself against the test control plane with the product running,
// as HariKube runs its own test against a cluster. chainsaw talks to the API
// server only (kubectl-like: apply, assert with retries, patch, delete and its
// own cleanup); every assertion is in the YAML.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { chainsawBin } from '../harness/tools.ts';
import { ALLOW_HARIKUBE_TARGETS, ensureNamespace, useEnv, withLogs } from './support.ts';

// Found (or built) before the environment starts: a first build takes minutes.
const CHAINSAW = chainsawBin();
const TESTS = resolve(import.meta.dirname, '../chainsaw');
const env = useEnv({ productArgs: [ALLOW_HARIKUBE_TARGETS] });

interface Report {
  tests?: Array<{
    name: string;
    steps?: Array<{ name?: string; operations?: Array<{ type: string; failure?: unknown }> }>;
  }>;
}

function chainsaw(args: string[], kubeconfig: string) {
  return new Promise<{ code: number; output: string }>((done) => {
    execFile(
      CHAINSAW,
      args,
      { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 300_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) =>
        done({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          output: stdout + stderr,
        }),
    );
  });
}

test('chainsaw: HariKube-shaped configs (deployOrder, Go durations, relative prefix, namespace backend) pass', () =>
  withLogs(env, async ({ cp }) => {
    await ensureNamespace(cp, 'harikube');
    const reports = mkdtempSync(join(tmpdir(), 'chainsaw-report-'));
    try {
      const run = await chainsaw(
        [
          'test',
          '--test-dir',
          TESTS,
          '--no-color',
          '--parallel',
          '1',
          '--report-format',
          'JSON',
          '--report-path',
          reports,
          '--report-name',
          'report',
        ],
        cp.kubeconfigPath,
      );
      assert.equal(run.code, 0, `chainsaw failed:\n${run.output}`);
      // The report says what ran (a directory without tests would pass with nothing run):
      // one operation per resource of each file, none failed, then chainsaw's cleanup,
      // which deletes the two configs left (pods is gone already).
      const report = JSON.parse(readFileSync(join(reports, 'report.json'), 'utf8')) as Report;
      assert.deepEqual(
        report.tests?.map((t) => t.name),
        ['harikube-shapes'],
      );
      const first =
        'configs ordered by deployOrder become Active and render as the middleware reads them';
      assert.deepEqual(
        report.tests?.[0]?.steps?.map((s) => [
          s.name,
          s.operations?.map((o) => o.type + (o.failure ? ' FAILED' : '')),
        ]),
        [
          [first, ['apply', 'apply', 'apply', 'assert', 'assert', 'assert', 'assert']],
          [
            "with the override, a deleted config's entry leaves the Secret",
            ['patch', 'patch', 'patch', 'delete', 'assert'],
          ],
          [`cleanup (${first})`, ['delete', 'delete', 'delete']],
        ],
        run.output,
      );
    } finally {
      rmSync(reports, { recursive: true, force: true });
    }
  }));
