// Summarises a V8 .cpuprofile (from --cpu-prof): the functions with the most
// self time, and the most inclusive time, so a hot path shows without a GUI.
//   npx node bench/lib/profile-top.ts bench/results/profiles/<file>.cpuprofile [rows]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  selfPercent: number;
  totalPercent: number;
}

const frameName = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
};

export function topFunctions(profile: Profile): { self: Row[]; total: Row[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  for (const [i, id] of profile.samples.entries()) {
    const dt = profile.timeDeltas[i] ?? 0;
    all += dt;
    const node = byId.get(id)!;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    // Inclusive time: every distinct frame on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = frameName(byId.get(cur)!);
      if (seen.has(frame)) continue;
      seen.add(frame);
      total.set(frame, (total.get(frame) ?? 0) + dt);
    }
  }
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name]) => ({
        name,
        selfPercent: (100 * (self.get(name) ?? 0)) / all,
        totalPercent: (100 * (total.get(name) ?? 0)) / all,
      }));
  return { self: rows(self), total: rows(total) };
}

if (import.meta.main) {
  const [file, rowsArg] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/lib/profile-top.ts <file.cpuprofile> [rows]');
    process.exit(2);
  }
  const n = Number(rowsArg ?? 30);
  const { self, total } = topFunctions(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const show = (title: string, rows: Row[]) => {
    console.log(`\n${title}`);
    for (const r of rows.slice(0, n))
      console.log(
        `${r.selfPercent.toFixed(1).padStart(5)}% self ${r.totalPercent.toFixed(1).padStart(5)}% total  ${r.name}`,
      );
  };
  show('By self time', self);
  show('By inclusive time', total);
}
