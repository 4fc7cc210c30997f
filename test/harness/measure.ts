// Measures the control plane: build.sh (warm when cached), harness start-up
// by phase, a kubectl round trip, restarts (first run only) and stop.
//   npx node test/harness/measure.ts [runs]
import { startControlPlane } from './controlplane.ts';

const runs = Number(process.argv[2] ?? 3);
for (let run = 1; run <= runs; run++) {
  const cp = await startControlPlane();
  const t0 = performance.now();
  const version = await cp.kubectl(['version', '-o', 'json']);
  const kubectlMs = Math.round(performance.now() - t0);
  const restarts: Record<string, number> = {};
  if (run === 1) {
    for (const [name, restart] of [
      ['apiServerRestartMs', () => cp.restartApiServer()],
      ['apiServerCrashRestartMs', () => cp.restartApiServer({ crash: true })],
      ['etcdRestartMs', () => cp.restartEtcd()],
      ['etcdCrashRestartMs', () => cp.restartEtcd({ crash: true })],
    ] as const) {
      const start = performance.now();
      await restart();
      restarts[name] = Math.round(performance.now() - start);
    }
  }
  const t1 = performance.now();
  await cp.stop();
  const stopMs = Math.round(performance.now() - t1);
  const serverVersion = (JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } })
    .serverVersion.gitVersion;
  console.log(
    JSON.stringify({
      run,
      server: serverVersion,
      ...cp.timings,
      kubectlVersionMs: kubectlMs,
      ...restarts,
      stopMs,
    }),
  );
}
