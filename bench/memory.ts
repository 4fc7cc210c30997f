// Benchmark 4: memory inside the Deployment's limit. The real server, built
// as the image builds it (tsc to dist/) and run as the image runs it (Node
// 24, the NODE_OPTIONS and MALLOC_ARENA_MAX of the Dockerfile), inside a memory cgroup with the
// limit of deploy/manager/deployment.yaml (and 128 MiB, the limit of the seed's
// Deployment and of HariKube's chart), against the real local control plane:
// idle with 3 configs, then 1,000 and 10,000 configs through a start, a relist
// (etcd compacted and the API server restarted, so every watch must list
// again), sustained admission load and a burst of applies. Peak RSS per phase
// (sampled from /proc), the cgroup's peak charge, the heap and GC pauses (from
// --trace-gc), and whether the cgroup's OOM killer fired.
//   npx node bench/memory.ts [--quick]
//   BENCH_NODE_OPTIONS='--max-semi-space-size=2' BENCH_MEMORY_CASES=1k-seed-limit npx node bench/memory.ts
//   BENCH_MEMORY_LIMIT=512Mi BENCH_MEMORY_CASES=10k npx node bench/memory.ts
//   BENCH_CHARGE_BINARY=1 …   (the cgroup is charged for the Node binary's pages, as a container is)
//   BENCH_MALLOC_ARENA_MAX=8 …  (another glibc arena count than the image's; '' for glibc's default)
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ControlPlane } from '../test/harness/controlplane.ts';
import { startControlPlane } from '../test/harness/controlplane.ts';
import type { Product } from '../test/harness/product.ts';
import { freePort, registerWebhooks, startProduct } from '../test/harness/product.ts';
import { sleep, waitFor } from '../test/e2e/support.ts';
import type { TopologyConfig } from '../src/resource/types.ts';
import type { BenchFlags } from './lib/cli.ts';
import { benchFlags, log, printMachine } from './lib/cli.ts';
import { createMemoryCgroup, quantityBytes, type MemoryCgroup } from './lib/cgroup.ts';
import { activeConfigs, api, apiAgent, ensureNamespaces } from './lib/cluster.ts';
import { fleetConfig } from './lib/configs.ts';
import { paced } from './lib/paced.ts';
import { benchReviews } from './lib/reviews.ts';
import { RESULTS_DIR, describeMachine, heading, machine, writeResults } from './lib/report.ts';
import { int, ms, table } from './lib/stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const MAIN = join(REPO, 'dist/src/server/main.js');
const MiB = 2 ** 20;
/** The seed's Deployment and HariKube's Helm chart: limits cpu 500m, memory 128Mi. */
const SEED_LIMIT = '128Mi';
const BURST_LABEL = 'bench.harikube.info/burst';

/** resources.limits.memory of the manager container of deploy/manager/deployment.yaml. */
export function deploymentMemoryLimit(): string {
  const text = readFileSync(join(REPO, 'deploy/manager/deployment.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const object = doc.toJSON() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: Array<Record<string, unknown>> } } };
    };
    if (object?.kind !== 'Deployment') continue;
    const containers = object.spec?.template?.spec?.containers ?? [];
    const manager = containers.find((c) => c.name === 'manager') ?? containers[0];
    const limit = (manager?.resources as { limits?: { memory?: string } } | undefined)?.limits
      ?.memory;
    if (limit) return limit;
  }
  throw new Error('deploy/manager/deployment.yaml declares no memory limit');
}

/** A variable the image sets (ENV NAME=… in the Dockerfile's last stage); '' if none. */
export function imageEnv(name: string): string {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const match = new RegExp(`^ENV ${name}=("([^"]*)"|(\\S+))`, 'm').exec(runtime);
  return match?.[2] ?? match?.[3] ?? '';
}

/** The NODE_OPTIONS the image sets. */
export const imageNodeOptions = (): string => imageEnv('NODE_OPTIONS');

export interface GcFigures {
  count: number;
  /** Main-thread pause of each kind: the longest, and all of them together. */
  maxPauseMs: number;
  totalPauseMs: number;
  maxMarkCompactPauseMs: number;
  /** The highest heap in use before a collection, and the most V8 had committed. */
  peakHeapUsedMiB: number;
  peakHeapCommittedMiB: number;
}

export interface Phase {
  name: string;
  seconds: number;
  peakRssMiB: number;
  /**
   * The anonymous part of RSS at its peak (heap, malloc, stacks); the rest is
   * file pages, mostly the Node binary's, which a container is charged for
   * but the kernel can evict and read back (thrashing, not a kill).
   */
  peakAnonMiB: number;
  /**
   * Major page faults during the phase: pages read back from disk, mostly
   * the binary's, evicted to make room (thrashing; near 0 when it fits).
   */
  majorFaults: number;
  /** RSS at the end of the phase. */
  endRssMiB: number;
  peakChargedMiB: number;
  gc: GcFigures;
  note: string;
}

export interface MemoryRun {
  label: string;
  limit: string;
  limitBytes: number;
  configs: number;
  nodeOptions: string;
  /** glibc's MALLOC_ARENA_MAX as the server ran with it ('' : glibc's default, 8 per core). */
  mallocArenaMax: string;
  /** From launch to /readyz 200, and from the last list answered ('cache synced') to ready. */
  readyMs?: number;
  readyAfterListsMs?: number;
  /** From launch until every config is Active. */
  allActiveMs?: number;
  phases: Phase[];
  /** VmHWM of the process: its peak RSS over the whole run. */
  peakRssMiB: number;
  /** The cgroup's peak charge (the binary's page cache included, as in a container). */
  peakChargedMiB: number;
  oomKills: number;
  exit: string;
  error?: string;
  loadAverage1m: number;
}

// --- the process: samples and GC lines ---------------------------------------

interface Sample {
  rssMiB: number;
  anonMiB: number;
  chargedMiB: number;
}

/** The process's major page faults so far (/proc/PID/stat, field 12). */
function majorFaults(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command's closing parenthesis: field 3 (state) onwards.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[9]);
  } catch {
    return 0;
  }
}

function procStatus(pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

class Sampler {
  readonly #samples: Sample[] = [];
  readonly #timer: NodeJS.Timeout;
  peakHwmMiB = 0;
  /** The process's major page faults at the last sample (kept once it has exited). */
  majorFaults = 0;
  constructor(product: Product, group: MemoryCgroup) {
    this.#timer = setInterval(() => {
      const pid = product.pid();
      if (!pid) return;
      this.majorFaults = Math.max(this.majorFaults, majorFaults(pid));
      const rss = procStatus(pid, 'VmRSS');
      const anon = procStatus(pid, 'RssAnon');
      this.peakHwmMiB = Math.max(this.peakHwmMiB, procStatus(pid, 'VmHWM'));
      let charged = 0;
      try {
        charged = group.usageBytes() / MiB;
      } catch {
        // Removed already.
      }
      if (rss > 0) this.#samples.push({ rssMiB: rss, anonMiB: anon, chargedMiB: charged });
    }, 100);
  }
  /** Samples since the last call. */
  take(): Sample[] {
    return this.#samples.splice(0);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

const GC_LINE =
  /ms: (Scavenge|Minor Mark-Sweep|Mark-Compact(?: \(reduce\))?|Mark-Sweep)\S* ([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/;

export function gcFigures(lines: readonly string[]): GcFigures {
  const figures: GcFigures = {
    count: 0,
    maxPauseMs: 0,
    totalPauseMs: 0,
    maxMarkCompactPauseMs: 0,
    peakHeapUsedMiB: 0,
    peakHeapCommittedMiB: 0,
  };
  for (const line of lines) {
    const m = GC_LINE.exec(line);
    if (!m) continue;
    const pause = Number(m[6]);
    figures.count++;
    figures.maxPauseMs = Math.max(figures.maxPauseMs, pause);
    figures.totalPauseMs += pause;
    if (m[1]!.startsWith('Mark'))
      figures.maxMarkCompactPauseMs = Math.max(figures.maxMarkCompactPauseMs, pause);
    figures.peakHeapUsedMiB = Math.max(figures.peakHeapUsedMiB, Number(m[2]));
    figures.peakHeapCommittedMiB = Math.max(
      figures.peakHeapCommittedMiB,
      Number(m[3]),
      Number(m[5]),
    );
  }
  return figures;
}

/** Reads the product's log from where the last call stopped. */
class LogCursor {
  #offset = 0;
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }
  next(): string[] {
    try {
      const size = statSync(this.#path).size;
      const text = readFileSync(this.#path).subarray(this.#offset, size).toString('utf8');
      this.#offset = size;
      return text.split('\n');
    } catch {
      return [];
    }
  }
}

// --- the cluster: configs, statuses, relists ---------------------------------

let seeded = 0;

/** A fleet config as a user would create it (no uid, versions or status). */
function manifest(i: number, labels: Record<string, string> = {}): TopologyConfig {
  const c = fleetConfig(i);
  const { name, namespace, finalizers } = c.metadata;
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: { name, namespace, finalizers, labels: { ...c.metadata.labels, ...labels } },
    spec: c.spec,
  } as TopologyConfig;
}

/** Creates fleet configs until `n` exist (straight to the API server, 16 at a time). */
async function seedTo(cp: ControlPlane, n: number): Promise<void> {
  const agent = apiAgent(cp, 16);
  try {
    while (seeded < n) {
      const batch = Array.from({ length: Math.min(64, n - seeded) }, (_, k) => seeded + k);
      await Promise.all(
        batch.map(async (i) => {
          const c = manifest(i);
          const r = await api(
            cp,
            agent,
            'POST',
            `/apis/harikube.info/v1/namespaces/${c.metadata.namespace}/topologyconfigs`,
            c,
          );
          if (r.status !== 201 && r.status !== 409)
            throw new Error(`creating ${c.metadata.name}: ${r.status} ${JSON.stringify(r.body)}`);
        }),
      );
      seeded += batch.length;
    }
  } finally {
    agent.destroy();
  }
}

function alive(product: Product): boolean {
  try {
    process.kill(product.pid() ?? -1, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitAllActive(
  cp: ControlPlane,
  product: Product,
  selector?: string,
  timeoutMs = 600_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: [number, number] = [0, 0];
  while (Date.now() < deadline) {
    if (!alive(product)) throw new Error(`the server died (${last[0]} of ${last[1]} Active)`);
    last = await activeConfigs(cp, selector).catch(() => last);
    if (last[1] > 0 && last[0] === last[1]) return;
    await sleep(2_000);
  }
  throw new Error(`not every config Active after ${timeoutMs} ms (${last[0]} of ${last[1]})`);
}

/** etcd's current revision, and a compaction to it: every older watch position is gone. */
async function compactEtcd(cp: ControlPlane): Promise<void> {
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${cp.etcdUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status}`);
    return (await response.json()) as { header?: { revision?: string } };
  };
  const range = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  await post('/v3/kv/compaction', { revision: range.header?.revision, physical: true });
}

/** The webhook's serving CA, as the server injected it into its configurations. */
async function webhookCa(cp: ControlPlane): Promise<string> {
  return waitFor(
    'the caBundle',
    async () => {
      const r = await cp.kubectl([
        'get',
        'validatingwebhookconfiguration',
        'topology-webhook',
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      return r.code === 0 && r.stdout.trim()
        ? Buffer.from(r.stdout.trim(), 'base64').toString()
        : false;
    },
    60_000,
    250,
  );
}

// --- one run -------------------------------------------------------------------

interface Case {
  label: string;
  limit: string;
  configs: number;
  /** Relist, admission load and a burst; an idle case only settles. */
  full: boolean;
  burst: number;
}

/**
 * A copy of this Node binary that no page cache holds yet, so the cgroup is
 * charged for the binary's pages as a container's is (the host has the
 * original cached already; its pages count in RSS, not in the charge).
 * BENCH_CHARGE_BINARY=1 runs the server from it.
 */
function uncachedNodeCopy(dir: string): string {
  const copy = join(dir, 'node');
  copyFileSync(process.execPath, copy);
  chmodSync(copy, 0o755);
  execFileSync('sync');
  // GNU dd: advise the kernel to drop the file's cached pages.
  execFileSync('dd', [`if=${copy}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
  return copy;
}

async function runCase(
  cp: ControlPlane,
  c: Case,
  flags: BenchFlags,
  { nodeOptions, mallocArenaMax }: ServerEnv,
): Promise<MemoryRun> {
  const limitBytes = quantityBytes(c.limit);
  await seedTo(cp, c.configs);
  const group = createMemoryCgroup(`topology-bench-${process.pid}-${c.label}`, limitBytes);
  const bin = process.env.BENCH_CHARGE_BINARY ? uncachedNodeCopy(cp.dir) : undefined;
  const run: MemoryRun = {
    label: c.label,
    limit: c.limit,
    limitBytes,
    configs: c.configs,
    nodeOptions,
    mallocArenaMax,
    phases: [],
    peakRssMiB: 0,
    peakChargedMiB: 0,
    oomKills: 0,
    exit: 'running',
    loadAverage1m: machine().loadAverage1m,
  };
  const port = await freePort();
  await registerWebhooks(cp, port);
  const launched = performance.now();
  let product: Product | undefined;
  let sampler: Sampler | undefined;
  let cursor: LogCursor | undefined;
  let phaseStarted = performance.now();
  let faultsBefore = 0;
  const endPhase = (name: string, note = '') => {
    const samples = sampler!.take();
    const faults = Math.max(sampler!.majorFaults, majorFaults(product?.pid()));
    const lines = cursor!.next();
    const phase: Phase = {
      name,
      seconds: (performance.now() - phaseStarted) / 1000,
      peakRssMiB: Math.max(0, ...samples.map((s) => s.rssMiB)),
      peakAnonMiB: Math.max(0, ...samples.map((s) => s.anonMiB)),
      majorFaults: faults - faultsBefore,
      endRssMiB: samples.at(-1)?.rssMiB ?? 0,
      peakChargedMiB: Math.max(0, ...samples.map((s) => s.chargedMiB)),
      gc: gcFigures(lines),
      note,
    };
    faultsBefore = faults;
    run.phases.push(phase);
    log(
      `${c.label} ${name}: peak RSS ${phase.peakRssMiB.toFixed(0)} MiB (anonymous ${phase.peakAnonMiB.toFixed(0)}), major faults ${phase.majorFaults}, end ${phase.endRssMiB.toFixed(0)} MiB, charged ${phase.peakChargedMiB.toFixed(0)} MiB, heap ${phase.gc.peakHeapUsedMiB.toFixed(0)} MiB, GC max pause ${phase.gc.maxPauseMs.toFixed(1)} ms${note ? `; ${note}` : ''}`,
    );
    phaseStarted = performance.now();
    return lines;
  };
  try {
    product = await startProduct(cp, {
      name: `memory-${c.label}`,
      webhookPort: port,
      main: MAIN,
      nodeArgs: ['--trace-gc'],
      env: { NODE_OPTIONS: nodeOptions, MALLOC_ARENA_MAX: mallocArenaMax },
      args: ['--allowed-target-secrets=harikube/*', '--log-level=info'],
      wrap: (node, args) => group.wrap(bin ?? node, args),
    });
    cursor = new LogCursor(join(cp.dir, `memory-${c.label}.log`));
    sampler = new Sampler(product, group);
    await product.waitReady(300_000);
    run.readyMs = performance.now() - launched;
    const synced = product
      .logs()
      .filter((l) => l.msg === 'cache synced')
      .map((l) => Date.parse(String(l.time)));
    const readyAt = Date.now();
    if (synced.length > 0) run.readyAfterListsMs = readyAt - Math.max(...synced);
    await waitAllActive(cp, product);
    run.allActiveMs = performance.now() - launched;
    endPhase('start', `ready ${ms(run.readyMs)} ms, every config Active ${ms(run.allActiveMs)} ms`);

    await sleep(flags.quick ? 5_000 : 15_000);
    endPhase('idle');
    if (!c.full) return run;

    await compactEtcd(cp);
    await cp.restartApiServer();
    const relisted = await waitFor(
      'the configs listed again',
      async () =>
        product!.logs().some((l) => l.msg === 'listed again' && l.informer === 'topologyconfigs'),
      120_000,
      500,
    ).catch(() => false);
    await sleep(5_000);
    endPhase('relist', relisted ? 'every watch listed again' : 'no relist seen in the log');

    const ca = await webhookCa(cp);
    const seconds = flags.quick ? 10 : 30;
    const load = await paced({
      url: `https://127.0.0.1:${port}`,
      caPem: ca,
      requests: benchReviews(c.configs),
      rate: 100,
      seconds,
    });
    endPhase(
      'admission load',
      `${int(load.sent)} reviews at 100/s for ${seconds} s, p99 ${ms(load.p99Ms)} ms, ${load.failed} failed`,
    );

    const label = `${c.label}`;
    const docs = Array.from({ length: c.burst }, (_, k) =>
      JSON.stringify(manifest(seeded + k, { [BURST_LABEL]: label })),
    );
    seeded += c.burst;
    const applyStarted = performance.now();
    const applied = await cp.kubectl(
      ['apply', '--server-side', '--field-manager=bench', '-f', '-'],
      {
        input: `{"apiVersion":"v1","kind":"List","items":[${docs.join(',')}]}`,
        timeoutMs: 600_000,
      },
    );
    if (applied.code !== 0)
      throw new Error(`kubectl apply of the burst: ${applied.stderr.slice(0, 500)}`);
    const applyMs = performance.now() - applyStarted;
    await waitAllActive(cp, product, `${BURST_LABEL}=${label}`);
    endPhase(
      'burst of applies',
      `${int(c.burst)} configs in one kubectl apply --server-side: ${ms(applyMs)} ms, all Active ${ms(performance.now() - applyStarted)} ms`,
    );
    return run;
  } catch (error) {
    run.error = error instanceof Error ? error.message.slice(0, 600) : String(error);
    log(`${c.label}: ${run.error}`);
    if (sampler && cursor) endPhase('(failed)');
    return run;
  } finally {
    if (product) {
      const pid = product.pid();
      if (pid) run.peakRssMiB = Math.max(sampler?.peakHwmMiB ?? 0, procStatus(pid, 'VmHWM'));
      else run.peakRssMiB = sampler?.peakHwmMiB ?? 0;
      sampler?.stop();
      const code = await product.stop().catch(() => null);
      run.exit = code === null ? 'killed' : `exited with code ${code}`;
    }
    // The server's log (with its GC trace) outlives the control plane's directory.
    mkdirSync(RESULTS_DIR, { recursive: true });
    copyFileSync(join(cp.dir, `memory-${c.label}.log`), join(RESULTS_DIR, `memory-${c.label}.log`));
    run.peakChargedMiB = group.peakBytes() / MiB;
    run.oomKills = group.oomKills();
    group.remove();
    await cp.kubectl([
      'delete',
      'validatingwebhookconfiguration,mutatingwebhookconfiguration',
      'topology-webhook',
      '--ignore-not-found',
    ]);
  }
}

export interface MemoryResults {
  runs: MemoryRun[];
  kubernetes: string;
}

/** Builds dist/ as the image does (tsc -p tsconfig.build.json). */
function build(): void {
  log('building dist/ (tsc -p tsconfig.build.json)');
  execFileSync(join(REPO, 'node_modules/.bin/tsc'), ['-p', join(REPO, 'tsconfig.build.json')], {
    cwd: REPO,
    stdio: 'inherit',
  });
}

/** The image's settings for the server's process, or the benchmark's overrides. */
interface ServerEnv {
  nodeOptions: string;
  mallocArenaMax: string;
}

export async function runMemory(flags: BenchFlags): Promise<MemoryResults> {
  build();
  const env: ServerEnv = {
    nodeOptions: process.env.BENCH_NODE_OPTIONS ?? imageNodeOptions(),
    mallocArenaMax: process.env.BENCH_MALLOC_ARENA_MAX ?? imageEnv('MALLOC_ARENA_MAX'),
  };
  // BENCH_MEMORY_LIMIT=512Mi tries a larger limit than deploy/ declares (to size it).
  const deployment = process.env.BENCH_MEMORY_LIMIT ?? deploymentMemoryLimit();
  const big = flags.quick ? 2_000 : 10_000;
  const cases: Case[] = [
    { label: 'idle-3', limit: deployment, configs: 3, full: false, burst: 0 },
    { label: '1k-seed-limit', limit: SEED_LIMIT, configs: 1_000, full: true, burst: 200 },
    { label: '1k', limit: deployment, configs: 1_000, full: true, burst: 200 },
    { label: `${big / 1000}k`, limit: deployment, configs: big, full: true, burst: 1_000 },
  ];
  // BENCH_MEMORY_CASES=idle-3,1k-seed-limit runs only those (for trying V8 settings).
  const only = process.env.BENCH_MEMORY_CASES?.split(',');
  if (only) cases.splice(0, cases.length, ...cases.filter((c) => only.includes(c.label)));
  const cp = await startControlPlane();
  try {
    await ensureNamespaces(cp, ['harikube', ...Array.from({ length: 50 }, (_, i) => `team-${i}`)]);
    const runs: MemoryRun[] = [];
    for (const c of cases) runs.push(await runCase(cp, c, flags, env));
    return { runs, kubernetes: cp.version };
  } finally {
    await cp.stop();
  }
}

export function printMemory(r: MemoryResults): void {
  heading(
    `Memory inside the limit (Kubernetes ${r.kubernetes}, NODE_OPTIONS="${r.runs[0]?.nodeOptions ?? ''}", MALLOC_ARENA_MAX=${r.runs[0]?.mallocArenaMax || "glibc's default"})`,
  );
  console.log(
    table(
      [
        'run',
        'limit',
        'configs',
        'peak RSS MiB',
        '× limit',
        'peak charged MiB',
        'OOM kills',
        'ready ms',
        'ready after lists ms',
        'all Active ms',
        'load at start',
      ],
      r.runs.map((run) => [
        run.label,
        run.limit,
        int(run.configs),
        run.peakRssMiB.toFixed(0),
        `${((run.peakRssMiB * MiB * 100) / run.limitBytes).toFixed(0)}%`,
        run.peakChargedMiB.toFixed(0),
        String(run.oomKills),
        run.readyMs === undefined ? '–' : ms(run.readyMs),
        run.readyAfterListsMs === undefined ? '–' : ms(run.readyAfterListsMs),
        run.allActiveMs === undefined ? '–' : ms(run.allActiveMs),
        String(run.loadAverage1m),
      ]),
    ),
  );
  console.log('');
  console.log(
    table(
      [
        'run',
        'phase',
        's',
        'peak RSS MiB',
        'of it anonymous MiB',
        'major faults',
        'RSS at end MiB',
        'peak heap used MiB',
        'heap committed MiB',
        'GCs',
        'max pause ms',
        'max mark-compact ms',
        'what happened',
      ],
      r.runs.flatMap((run) =>
        run.phases.map((p) => [
          run.label,
          p.name,
          p.seconds.toFixed(0),
          p.peakRssMiB.toFixed(0),
          p.peakAnonMiB.toFixed(0),
          int(p.majorFaults),
          p.endRssMiB.toFixed(0),
          p.gc.peakHeapUsedMiB.toFixed(0),
          p.gc.peakHeapCommittedMiB.toFixed(0),
          int(p.gc.count),
          ms(p.gc.maxPauseMs),
          ms(p.gc.maxMarkCompactPauseMs),
          p.note,
        ]),
      ),
    ),
  );
  for (const run of r.runs) if (run.error) console.log(`\n${run.label} failed: ${run.error}`);
}

if (import.meta.main) {
  const flags = benchFlags();
  printMachine();
  const results = await runMemory(flags);
  printMemory(results);
  console.log(
    `\nwrote ${writeResults('memory', results)}; ${describeMachine(machine())} at the end`,
  );
}
