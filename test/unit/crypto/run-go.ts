// Runs a standalone Go program (standard library only) in a fresh temp dir,
// so tests can check our output against Go itself. Go is a hard requirement
// of the test suite: a missing `go` is an error, never a skip.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function go(args: string[], cwd: string, input?: string): string {
  const result = spawnSync('go', args, {
    cwd,
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // Off of any module or workspace around us; never fetch a toolchain.
    env: { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off', GOTOOLCHAIN: 'local' },
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error('Go is required by this test suite but `go` was not found on PATH');
    }
    throw result.error;
  }
  if (result.status !== 0) {
    throw new Error(`go ${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  }
  return result.stdout;
}

/** `go run .` of `source` as main.go, with `input` on stdin; returns stdout. */
export function runGo(source: string, input: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'topology-go-'));
  try {
    writeFileSync(join(dir, 'main.go'), source);
    go(['mod', 'init', 'example.invalid/gocheck'], dir);
    return go(['run', '.'], dir, input);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
