// A small Dockerfile reader for the image tests: enough of the syntax for our
// own Dockerfile (comments, line continuations, FROM ... AS, exec-form JSON).
// Not a test file itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './manifests.ts';

export interface Instruction {
  keyword: string; // upper case
  args: string; // the rest of the line, continuations joined
  line: number; // 1-based line of the keyword
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[]; // after FROM
}

export function readDockerfile(path = join(REPO, 'Dockerfile')): Stage[] {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending: Instruction | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return; // comments inside a continuation are dropped
    const continues = line.endsWith('\\');
    const body = continues ? line.slice(0, -1).trim() : line;
    if (pending) {
      pending.args = `${pending.args} ${body}`.trim();
    } else {
      const match = /^(\S+)\s*(.*)$/.exec(body)!;
      pending = { keyword: match[1]!.toUpperCase(), args: match[2]!, line: i + 1 };
    }
    if (!continues) {
      instructions.push(pending);
      pending = undefined;
    }
  });
  if (pending) instructions.push(pending);

  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!match) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ image: match[1]!, name: match[2], instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before FROM`);
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

/** COPY's flags and paths (shell form only; --from is kept, other flags ignored). */
export function parseCopy(args: string): Copy {
  const words = args.split(/\s+/);
  let from: string | undefined;
  const paths: string[] = [];
  for (const word of words) {
    if (word.startsWith('--from=')) from = word.slice('--from='.length);
    else if (!word.startsWith('--')) paths.push(word);
  }
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** The `npm ci ...` commands of a stage's RUN instructions, each as its argument list after `npm`. */
export function npmCiCommands(stage: Stage): string[][] {
  return stage.instructions
    .filter((i) => i.keyword === 'RUN')
    .flatMap((i) => i.args.split(/&&|;/))
    .map((cmd) => cmd.trim().split(/\s+/))
    .filter((words) => words[0] === 'npm' && words[1] === 'ci')
    .map((words) => words.slice(1));
}
