// The machine the figures come from, and where results go: a table on stdout
// and bench/results/<name>.json (gitignored).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export const RESULTS_DIR = join(import.meta.dirname, '..', 'results');

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** 1-minute load average when the benchmark started: other work on the machine skews absolute figures. */
  loadAverage1m: number;
}

export function machine(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    // /proc/cpuinfo names the model where os.cpus() may not (some VMs).
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: os.cpus() it is.
  }
  return {
    cpuModel,
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.kernel} (load average ${m.loadAverage1m} at start)`;
}

/** Writes bench/results/<name>.json with the machine and the date; returns the path. */
export function writeResults(name: string, results: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  const document = { benchmark: name, date: new Date().toISOString(), machine: machine(), results };
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
  return path;
}

/** Prints a benchmark's heading. */
export function heading(title: string): void {
  console.log(`\n## ${title}\n`);
}
