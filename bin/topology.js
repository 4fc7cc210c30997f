#!/usr/bin/env node
// Launcher of `topology` and `kubectl-topology` (kubectl runs the latter for
// `kubectl topology …`). Written so that any Node.js can parse it: on one
// older than 24 it says so in one line instead of failing inside a module.
//
// In a checkout it runs the TypeScript sources (Node 24 strips the types), so
// `npx topology` works before and without `npm run build`; an installed
// package has no src/ and runs the JavaScript that `npm pack` compiled.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(
    `topology: needs Node.js ${REQUIRED_MAJOR} or newer, but ${process.execPath} is Node.js ${process.versions.node}\n`,
  );
  process.exit(2);
}

const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : '../dist/src/cli/main.js');
