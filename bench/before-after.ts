// The admission benchmark's servers built from an older commit's src/ and
// from the working tree, side by side in one run, to show what a change did.
// Not part of `npm run bench`.
//   npx node bench/before-after.ts <commit> [--quick]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import type { ContenderResult } from './lib/compare.ts';
import { compare, roundLengths } from './lib/compare.ts';
import { heading, writeResults } from './lib/report.ts';
import { benchReviews } from './lib/reviews.ts';
import type { ServerProcess, StartServerOptions } from './lib/servers.ts';
import { benchTls, startServer } from './lib/servers.ts';
import { int, ms, ratio, table } from './lib/stats.ts';

const REPO = join(import.meta.dirname, '..');
const CONFIGS = 1000;

/** A directory holding `commit`'s src/ with today's bench/lib beside it; returns its startServer. */
async function olderTree(commit: string) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-before-'));
  const archive = execFileSync('git', ['-C', REPO, 'archive', commit, 'src', 'package.json']);
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  cpSync(join(REPO, 'bench/lib'), join(dir, 'bench/lib'), { recursive: true });
  cpSync(
    join(REPO, 'test/unit/admission/fixtures.ts'),
    join(dir, 'test/unit/admission/fixtures.ts'),
  );
  const module = (await import(join(dir, 'bench/lib/servers.ts'))) as {
    startServer: (options: StartServerOptions) => Promise<ServerProcess>;
  };
  return { dir, startServer: module.startServer };
}

const flags = benchFlags();
const commit = flags.only[0];
if (!commit) {
  console.error('usage: node bench/before-after.ts <commit> [--quick]');
  process.exit(2);
}
printMachine();
const { caPem, serving } = benchTls();
const requests = benchReviews(CONFIGS);
const before = await olderTree(commit);
const servers: ServerProcess[] = [];
try {
  const start = async (
    startFn: (o: StartServerOptions) => Promise<ServerProcess>,
    mode: 'noop' | 'product',
    logMode: 'silent' | 'info',
  ) => {
    const server = await startFn({
      mode,
      configs: mode === 'noop' ? 0 : CONFIGS,
      log: logMode,
      tls: serving,
    });
    servers.push(server);
    return server;
  };
  const contenders = [
    { label: 'no-op fastify', server: await start(startServer, 'noop', 'silent') },
    {
      label: `${commit}, log silent`,
      server: await start(before.startServer, 'product', 'silent'),
    },
    { label: 'working tree, log silent', server: await start(startServer, 'product', 'silent') },
    { label: `${commit}, log info`, server: await start(before.startServer, 'product', 'info') },
    { label: 'working tree, log info', server: await start(startServer, 'product', 'info') },
  ].map((c, i) => ({ ...c, requests, check: i > 0 }));
  const results: ContenderResult[] = await compare(contenders, {
    caPem,
    ...roundLengths(flags.quick),
    connections: 10,
    rate: 500,
    log,
  });
  heading(`Admission, ${commit} against the working tree (${int(CONFIGS)} configs, same run)`);
  const noop = results[0]!;
  console.log(
    table(
      ['server', 'max req/s', '× no-op', 'server CPU µs/review', 'p50 @500/s ms', 'p99 @500/s ms'],
      results.map((r) => [
        r.label,
        int(r.max.requestsPerSecond),
        ratio(r.max.requestsPerSecond / noop.max.requestsPerSecond),
        int(r.cpuMicrosPerReview),
        ms(r.paced.p50Ms),
        ms(r.paced.p99Ms),
      ]),
    ),
  );
  console.log(`\nwrote ${writeResults('before-after', { commit, results })}`);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(before.dir, { recursive: true, force: true });
}
