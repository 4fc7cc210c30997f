// The GitOps health checks shipped in deploy/gitops, run by the code the
// tools themselves run: the Argo CD health.lua in gopher-lua, the Flux
// healthCheckExprs with Flux's CEL evaluator, and kstatus (cli-utils), all
// over the same testdata (objects as the reconciler writes them).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { validateSchema } from '../../../src/rules/schema.ts';
import { runTool, type ToolResult } from '../../harness/tools.ts';

const ARGO = 'deploy/gitops/argocd';
const CHECK = `${ARGO}/resource_customizations/harikube.info/TopologyConfig`;
const FLUX = 'deploy/gitops/flux/kustomizations.yaml';
const testdata = readdirSync(CHECK + '/testdata')
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => `${CHECK}/testdata/${f}`);

const byFile = (results: ToolResult[]) =>
  Object.fromEntries(results.map((r) => [r.source.replace(`${CHECK}/`, ''), r]));

// Flux and kstatus over the same objects. kstatus alone cannot tell an
// object no controller has seen yet from a finished one (it has no
// conditions): "Current" there, which is why the reconciler writes Pending
// the moment it sees a config, and why Flux users get the expressions below.
const expected: Record<string, { flux: string; kstatus: string }> = {
  'testdata/no-status.yaml': { flux: 'Unknown', kstatus: 'Current' },
  'testdata/pending.yaml': { flux: 'InProgress', kstatus: 'InProgress' },
  'testdata/settling.yaml': { flux: 'InProgress', kstatus: 'InProgress' },
  'testdata/active-old-generation.yaml': { flux: 'InProgress', kstatus: 'InProgress' },
  'testdata/active.yaml': { flux: 'Current', kstatus: 'Current' },
  'testdata/error.yaml': { flux: 'Failed', kstatus: 'Failed' },
  'testdata/deleting.yaml': { flux: 'InProgress', kstatus: 'Terminating' },
  'testdata/active-without-conditions.yaml': { flux: 'InProgress', kstatus: 'Current' },
};

describe('GitOps health checks over deploy/gitops testdata', () => {
  test('every testdata object is a TopologyConfig the CRD schema accepts, status included', () => {
    assert.deepEqual(
      Object.keys(expected).sort(),
      testdata.map((f) => f.replace(`${CHECK}/`, '')),
    );
    for (const file of testdata) {
      assert.deepEqual(validateSchema(parse(readFileSync(file, 'utf8'))), [], file);
    }
  });

  test('Argo CD: health.lua in gopher-lua gives what health_test.yaml says', async () => {
    const cases = (
      parse(readFileSync(`${CHECK}/health_test.yaml`, 'utf8')) as {
        tests: { healthStatus: { status: string; message: string }; inputPath: string }[];
      }
    ).tests;
    assert.deepEqual(
      cases.map((c) => c.inputPath).sort(),
      Object.keys(expected).sort(),
      'one case per testdata file',
    );
    const got = byFile(
      await runTool('argocd-health', [
        `${CHECK}/health.lua`,
        ...cases.map((c) => `${CHECK}/${c.inputPath}`),
      ]),
    );
    for (const c of cases) {
      const result = got[c.inputPath]!;
      assert.deepEqual(
        { status: result.status, message: result.message },
        c.healthStatus,
        c.inputPath,
      );
    }
  });

  test('Argo CD: no status, Pending, an older generation and deletion are Progressing; Error is Degraded with its reason', async () => {
    const got = byFile(await runTool('argocd-health', [`${CHECK}/health.lua`, ...testdata]));
    assert.equal(got['testdata/no-status.yaml']!.status, 'Progressing');
    assert.equal(got['testdata/pending.yaml']!.status, 'Progressing');
    assert.equal(got['testdata/active-old-generation.yaml']!.status, 'Progressing');
    assert.equal(got['testdata/deleting.yaml']!.status, 'Progressing');
    assert.equal(got['testdata/active.yaml']!.status, 'Healthy');
    const error = parse(readFileSync(`${CHECK}/testdata/error.yaml`, 'utf8'));
    assert.deepEqual(
      { status: got['testdata/error.yaml']!.status, message: got['testdata/error.yaml']!.message },
      { status: 'Degraded', message: error.status.deployStatusReason },
    );
  });

  test('Argo CD: the argocd-cm snippet carries health.lua verbatim', () => {
    const cm = parse(readFileSync(`${ARGO}/argocd-cm.yaml`, 'utf8'));
    assert.equal(
      cm.data['resource.customizations.health.harikube.info_TopologyConfig'],
      readFileSync(`${CHECK}/health.lua`, 'utf8'),
    );
  });

  test("Flux: the documented healthCheckExprs, in Flux's CEL evaluator", async () => {
    const got = byFile(await runTool('flux-health', [FLUX, ...testdata]));
    for (const [file, want] of Object.entries(expected)) {
      assert.equal(got[file]?.status, want.flux, `${file}: ${got[file]?.message}`);
    }
    // The Kustomization that applies the microservice waits for the routing one.
    const docs = parseAllDocuments(readFileSync(FLUX, 'utf8')).map((d) => d.toJS());
    const app = docs.find((d) => d.metadata.name === 'orders-app');
    const routing = docs.find((d) => d.metadata.name === 'orders-routing');
    assert.deepEqual(app.spec.dependsOn, [{ name: routing.metadata.name }]);
    assert.equal(routing.spec.wait, true);
  });

  test('kstatus: Error is Failed, not yet merged or settling is InProgress, Active for the current generation is Current', async () => {
    const got = byFile(await runTool('kstatus', testdata));
    for (const [file, want] of Object.entries(expected)) {
      assert.equal(got[file]?.status, want.kstatus, `${file}: ${got[file]?.message}`);
    }
  });
});
