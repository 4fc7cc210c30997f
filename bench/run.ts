// Runs every benchmark in order, prints its table and writes
// bench/results/<name>.json; ends with the targets, met or missed.
//   npm run bench                      (builds the control plane first)
//   node bench/run.ts [--quick] [--cpu-prof] [admission scaling merge heap apply-to-active concurrency memory gitops-burst]
import { printAdmission, runAdmission, type AdmissionResults } from './admission.ts';
import { printApplyToActive, runApplyToActive } from './apply-to-active.ts';
import { printConcurrency, runConcurrency, type ConcurrencyResults } from './concurrency.ts';
import { benchFlags, printMachine } from './lib/cli.ts';
import { describeMachine, machine, writeResults } from './lib/report.ts';
import { ms, ratio } from './lib/stats.ts';
import { printGitopsBurst, runGitopsBurst, type BurstResults } from './gitops-burst.ts';
import { printMemory, runMemory, type MemoryResults } from './memory.ts';
import { printHeap, runHeap } from './heap.ts';
import { printMerge, runMerge, type MergeResults } from './merge.ts';
import { printScaling, runScaling, type ScalingResults } from './scaling.ts';

const flags = benchFlags();
const wanted = (name: string) => flags.only.length === 0 || flags.only.includes(name);
const started = performance.now();
printMachine();
if (flags.quick) console.log('(--quick: short runs, noisier figures)');

let admission: AdmissionResults | undefined;
let scaling: ScalingResults | undefined;
let concurrency: ConcurrencyResults | undefined;
let merge: MergeResults | undefined;
let memory: MemoryResults | undefined;
let burst: BurstResults | undefined;

if (wanted('admission')) {
  admission = await runAdmission(flags);
  printAdmission(admission);
  writeResults('admission', admission);
}
if (wanted('scaling')) {
  scaling = await runScaling(flags);
  printScaling(scaling);
  writeResults('scaling', scaling);
}
if (wanted('merge')) {
  merge = runMerge(flags);
  printMerge(merge);
  writeResults('merge', merge);
}
if (wanted('heap')) {
  const heap = runHeap(flags.quick);
  printHeap(heap);
  writeResults('heap', heap);
}
if (wanted('apply-to-active')) {
  const apply = await runApplyToActive(flags);
  printApplyToActive(apply);
  writeResults('apply-to-active', apply);
}
if (wanted('concurrency')) {
  concurrency = await runConcurrency(flags);
  printConcurrency(concurrency);
  writeResults('concurrency', concurrency);
}

if (wanted('memory')) {
  memory = await runMemory(flags);
  printMemory(memory);
  writeResults('memory', memory);
}
if (wanted('gitops-burst')) {
  burst = await runGitopsBurst(flags);
  printGitopsBurst(burst);
  writeResults('gitops-burst', burst);
}

console.log('\n## Targets (issue 6)\n');
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
if (admission) {
  const r = admission.ratios;
  console.log(
    `- maximum throughput ≥ 0.70× the no-op: withdrawn (its calibration showed the ratio mostly measures this 2-core machine); for the record ${ratio(r.throughputSilent)} with logs silent, ${ratio(r.throughputInfo)} logging at info`,
  );
}
if (scaling) {
  const at1k = scaling.rows.find((row) => row.configs === 1000)!;
  // The admission benchmark measures the same configuration (info, 1,000 configs) earlier in the run.
  const info = admission?.servers.find((s) => s.label.includes('info'));
  const also = info
    ? `; the admission benchmark's same configuration: ${ms(info.paced.p99Ms)} ms with the sender's own lag p99 at ${ms(info.paced.sendLagP99Ms)} ms`
    : '';
  console.log(
    `- p99 < 5 ms at ${scaling.rate} requests/s with 1,000 configs: ${ms(at1k.paced.p99Ms)} ms (${verdict(at1k.paced.p99Ms < 5)})${also}`,
  );
  console.log(
    `- p99 at 10,000 configs within 1.5× of p99 at 10: ${ratio(scaling.ratios.p99At10kOver10)} (${verdict(scaling.ratios.p99At10kOver10 <= 1.5)})`,
  );
}
if (concurrency) {
  console.log(
    `- 100 conflicting creates at two replicas end with exactly one winner per conflict: ${verdict(concurrency.ok)}`,
  );
}
console.log('\n## Targets (issue 19)\n');
if (merge) {
  const at5k = merge.rows.find((row) => row.configs === 5000);
  if (at5k) {
    console.log(
      `- a relist at 5,000 configs merges in ≤ 100 ms: ${ms(at5k.mergeLinkedRelistMs)} ms as the reconciler merges (the linked targets only); given every config ${ms(at5k.mergeTargetRelistMs)} ms (configs never seen: ${ms(at5k.mergeTargetMs)} ms) (${verdict(at5k.mergeLinkedRelistMs <= 100)})`,
    );
  }
}
if (memory) {
  for (const run of memory.runs) {
    const share = (run.peakRssMiB * 2 ** 20) / run.limitBytes;
    // Killed: by the cgroup's OOM killer, or dead of a signal (V8 out of
    // heap aborts) before the benchmark stopped it. A phase that did not
    // finish in its time is another verdict.
    const killed = run.oomKills > 0 || run.exit === 'killed';
    const finished = run.error === undefined ? 'met' : `MISSED (${run.error.split('\n')[0]})`;
    const target =
      run.configs <= 3
        ? `idle RSS ≤ 100 MB: ${(((run.phases.find((p) => p.name === 'idle')?.endRssMiB ?? 0) * 2 ** 20) / 1e6).toFixed(0)} MB (${verdict(((run.phases.find((p) => p.name === 'idle')?.endRssMiB ?? Infinity) * 2 ** 20) / 1e6 <= 100)})`
        : run.configs >= 10_000
          ? `peak RSS ≤ 70% of ${run.limit}: ${(share * 100).toFixed(0)}% (${verdict(share <= 0.7)}); ready ≤ 5 s after the lists: ${run.readyAfterListsMs === undefined ? '–' : ms(run.readyAfterListsMs)} ms (${verdict((run.readyAfterListsMs ?? Infinity) <= 5000)})`
          : `inside ${run.limit} without a kill`;
    console.log(
      `- ${run.label}: never killed: ${verdict(!killed)}; every phase finished: ${finished}; ${target}`,
    );
  }
}
if (burst) {
  console.log(
    `- ${burst.configs} configs in one apply, webhooks ≤ 1.1× no admission: ${ratio(burst.webhooksOverNone)} (${verdict(burst.webhooksOverNone <= 1.1)}); ≤ 1.1× a ValidatingAdmissionPolicy: ${ratio(burst.webhooksOverPolicy)} (${verdict(burst.webhooksOverPolicy <= 1.1)})`,
  );
}
console.log(
  `\n${describeMachine(machine())} at the end; ${Math.round((performance.now() - started) / 1000)} s in all. Results in bench/results/.`,
);
