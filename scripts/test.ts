// Runs every test layer and ends with one closing line for all of them.
// Unit tests run in parallel; end-to-end and fault tests one file at a time,
// since each file starts its own kube-apiserver and etcd on a 2-core machine.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const layers: Array<{ name: string; args: string[] }> = [
  { name: 'unit', args: ['--test', 'test/unit/**/*.test.ts'] },
  { name: 'e2e', args: ['--test', '--test-concurrency=1', 'test/e2e/**/*.test.ts'] },
  { name: 'chaos', args: ['--test', '--test-concurrency=1', 'test/chaos/**/*.test.ts'] },
];
const only = process.argv.slice(2);

// chainsaw is the slowest tool to build (minutes on 2 cores) and only an
// end-to-end test runs it: build it in the background, at low priority, while
// the unit layer runs. The test asks install.sh for it as well and waits on
// its lock, so a build still running (or one that failed) is met there.
if (only.length === 0 || only.includes('e2e')) {
  const log = join(tmpdir(), 'topology-chainsaw-build.log');
  const build = spawn('nice', ['-n', '19', 'bash', 'test/tools/install.sh', 'chainsaw'], {
    stdio: ['ignore', 'ignore', openSync(log, 'w')],
  });
  build.on('exit', (code) => {
    if (code !== 0) process.stdout.write(`\n# chainsaw build failed (exit ${code}): see ${log}\n`);
  });
}

let passed = 0;
let failed = 0;
let exitCode = 0;
for (const layer of layers.filter((l) => only.length === 0 || only.includes(l.name))) {
  process.stdout.write(`\n### ${layer.name} tests\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, layer.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    });
    child.on('exit', (exit) => {
      passed += Number(/ℹ pass (\d+)/.exec(tail)?.[1] ?? 0);
      failed += Number(/ℹ fail (\d+)/.exec(tail)?.[1] ?? 0);
      resolve(exit ?? 1);
    });
  });
  if (code !== 0) exitCode = code;
}
process.stdout.write(`\nAll layers: ${passed} passed, ${failed} failed\n`);
process.exit(exitCode);
