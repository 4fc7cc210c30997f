// Command-line flags common to bench/run.ts and every benchmark run alone.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { RESULTS_DIR, describeMachine, machine } from './report.ts';

export interface BenchFlags {
  /** Short runs, for trying the benchmarks out; the figures are noisier. */
  quick: boolean;
  /** Write V8 CPU profiles of the webhook servers to bench/results/profiles/. */
  cpuProfileDir: string | undefined;
  /** Names of the benchmarks to run (bench/run.ts only); empty = all. */
  only: string[];
}

export function benchFlags(argv: readonly string[] = process.argv.slice(2)): BenchFlags {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: node bench/run.ts [--quick] [--cpu-prof] [benchmark...]\n' +
        '  (or node bench/<benchmark>.ts [--quick] [--cpu-prof])\n' +
        'benchmarks: admission scaling merge heap apply-to-active concurrency memory gitops-burst',
    );
    process.exit(0);
  }
  return {
    quick: values.quick,
    cpuProfileDir: values['cpu-prof'] ? join(RESULTS_DIR, 'profiles') : undefined,
    only: positionals,
  };
}

/** Prints the machine once, first, so every table has its context. */
export function printMachine(): void {
  console.log(`Machine: ${describeMachine(machine())}`);
}

export const log = (line: string): void => console.error(`  · ${line}`);
