// Child processes of the tests (etcd, kube-apiserver, the product): logs to
// files, never to the test output, and never left behind — on exit, on a
// signal, and (with util-linux's setpriv) even when the test process is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { delimiter, join } from 'node:path';

export interface Managed {
  name: string;
  child: ChildProcess;
  /** Resolves with a description of how the process ended. */
  exited: Promise<string>;
  done: boolean;
}

// Children and directories of every control plane of this process, so that
// an exit or a signal still takes them down (tests call stop() in `after`).
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

/** Removes `dir` at exit if its owner could not (a crash, a signal). */
export const trackDir = (dir: string): void => {
  installExitHooks();
  liveDirs.add(dir);
};
export const untrackDir = (dir: string): void => {
  liveDirs.delete(dir);
};
let hooksInstalled = false;

export function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killEverything();
      // Default behaviour again: die of the same signal.
      process.kill(process.pid, signal);
    });
  }
}

function killEverything(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

// With util-linux's setpriv, the kernel also kills the child if this process
// dies without running any handler (SIGKILL, a crash): setpriv sets the
// parent-death signal and then execs the binary in place, so the pid is the same.
export function launch(
  name: string,
  bin: string,
  args: readonly string[],
  logPath: string,
  env?: NodeJS.ProcessEnv,
): Managed {
  const setpriv = findOnPath('setpriv');
  const log = openSync(logPath, 'a');
  const [command, argv] = setpriv
    ? [setpriv, ['--pdeathsig=SIGKILL', '--', bin, ...args]]
    : [bin, [...args]];
  let child: ChildProcess;
  try {
    child = spawn(command, argv, { detached: false, stdio: ['ignore', log, log], env });
  } finally {
    closeSync(log);
  }
  installExitHooks();
  liveChildren.add(child);
  const managed: Managed = {
    name,
    child,
    done: false,
    exited: new Promise((resolve) => {
      const finish = (how: string) => {
        managed.done = true;
        liveChildren.delete(child);
        resolve(how);
      };
      child.once('exit', (code, signal) =>
        finish(signal ? `killed by ${signal}` : `exited with code ${code}`),
      );
      child.once('error', (error) => finish(`could not start: ${error.message}`));
    }),
  };
  return managed;
}

export async function terminate(
  proc: Managed,
  signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM',
  graceMs = 15_000,
): Promise<void> {
  if (proc.done) return;
  proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  try {
    await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

// Ports for the processes a test starts, from below Linux's ephemeral range
// (32768-60999 by default). listen(0) hands out ports from that range, and so
// does every outgoing connection on the machine: a port picked there and
// released could be some client's local port before our binary bound it
// (seen in CI as EADDRINUSE at start). Each candidate is bound to check it is
// free, all are held open together so they are distinct, and a port is never
// handed out twice by this process.
const PORT_RANGE = { from: 20_000, to: 32_767 };
const handedOut = new Set<number>();

function tryListen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < count; attempts++) {
      if (attempts > 1_000)
        throw new Error(`no ${count} free ports in ${PORT_RANGE.from}-${PORT_RANGE.to}`);
      const port =
        PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from + 1));
      if (handedOut.has(port)) continue;
      const server = await tryListen(port);
      if (!server) continue;
      held.push(server);
      ports.push(port);
      handedOut.add(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
