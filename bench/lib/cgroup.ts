// A memory cgroup for one benchmarked process, as a container runtime gives a
// Pod's container: a child of this process's own cgroup (read from
// /proc/self/cgroup), with a hard limit and no swap, removed afterwards, also
// when the benchmark fails or is interrupted. cgroup v1 (the memory hierarchy
// under /sys/fs/cgroup/memory) or v2 (the unified hierarchy, memory enabled
// for children). Writing there needs root, as creating a container does.
import { existsSync, readFileSync, rmdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  version: 1 | 2;
  path: string;
  limitBytes: number;
  /** Wraps a command line so that the process enters the cgroup before Node starts (it sizes its heap from the limit). */
  wrap(bin: string, args: readonly string[]): [string, string[]];
  /** Memory charged now (page cache of the binary included, as in a container). */
  usageBytes(): number;
  /** The highest charge since creation. */
  peakBytes(): number;
  /** How many processes the cgroup's OOM killer killed. */
  oomKills(): number;
  /** Kills what is left inside and removes the cgroup; idempotent. */
  remove(): void;
}

const live = new Set<MemoryCgroup>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const removeAll = () => {
    for (const group of live) group.remove();
  };
  process.on('exit', removeAll);
  // A signal ends the process without 'exit' (the harness re-raises it after its own clean-up).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      removeAll();
      process.off(signal, onSignal);
      // Alone, the default again: die of the same signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** The memory cgroup this process is in: [version, absolute directory]. */
export function ownMemoryCgroup(): [1 | 2, string] {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  const v1 = lines.map((l) => l.split(':')).find(([, controllers]) => controllers === 'memory');
  if (v1 && existsSync('/sys/fs/cgroup/memory')) return [1, join('/sys/fs/cgroup/memory', v1[2]!)];
  const v2 = lines.map((l) => l.split(':')).find(([id]) => id === '0');
  const root = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : undefined;
  if (v2 && root && readFileSync(join(root, 'cgroup.controllers'), 'utf8').includes('memory'))
    return [2, join(root, v2[2]!)];
  throw new Error('no memory cgroup controller on this machine (neither v1 nor v2)');
}

const readNumber = (file: string): number => Number(readFileSync(file, 'utf8').trim());

/** Creates `<own cgroup>/<name>` with `limitBytes` of memory and no swap. */
export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const [version, parent] = ownMemoryCgroup();
  const path = join(parent, name);
  if (version === 2) {
    // Children get the memory controller only if the parent hands it down.
    const subtree = join(parent, 'cgroup.subtree_control');
    if (!readFileSync(subtree, 'utf8').includes('memory')) writeFileSync(subtree, '+memory');
  }
  mkdirSync(path);
  let removed = false;
  const file = (v1: string, v2: string) => join(path, version === 1 ? v1 : v2);
  const group: MemoryCgroup = {
    version,
    path,
    limitBytes,
    wrap: (bin, args) => [
      '/bin/sh',
      ['-c', `echo $$ > ${join(path, 'cgroup.procs')} && exec "$0" "$@"`, bin, ...args],
    ],
    usageBytes: () => readNumber(file('memory.usage_in_bytes', 'memory.current')),
    peakBytes: () => readNumber(file('memory.max_usage_in_bytes', 'memory.peak')),
    oomKills: () => {
      const text = readFileSync(file('memory.oom_control', 'memory.events'), 'utf8');
      return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
    },
    remove: () => {
      if (removed) return;
      removed = true;
      live.delete(group);
      for (let attempt = 0; attempt < 50; attempt++) {
        const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8').trim().split('\n');
        for (const pid of pids.filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        try {
          rmdirSync(path);
          return;
        } catch {
          // Busy until the last process has been reaped: try again shortly.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
      }
      console.error(`could not remove the cgroup ${path}`);
    },
  };
  try {
    if (version === 1) {
      writeFileSync(join(path, 'memory.limit_in_bytes'), String(limitBytes));
      // The memory+swap limit may only be set once the memory limit is.
      const memsw = join(path, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) writeFileSync(memsw, String(limitBytes));
    } else {
      writeFileSync(join(path, 'memory.max'), String(limitBytes));
      if (existsSync(join(path, 'memory.swap.max')))
        writeFileSync(join(path, 'memory.swap.max'), '0');
    }
  } catch (error) {
    group.remove();
    throw error;
  }
  hookExit();
  live.add(group);
  return group;
}

/** Kubernetes quantities as a Deployment's resources use them (`256Mi`, `1G`, `134217728`). */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity.trim());
  if (!match) throw new Error(`not a memory quantity: ${quantity}`);
  const factor: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Math.round(Number(match[1]) * (match[2] ? factor[match[2]]! : 1));
}
