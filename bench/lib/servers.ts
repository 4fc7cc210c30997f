// The parent's side of bench/lib/webhook-child.ts: start a server process,
// ask it for its memory and CPU figures, stop it.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateAndKey } from '../../src/crypto/certs.ts';
import { loopbackTls } from '../../test/harness/loopback-tls.ts';
import type { ReadyMessage, StartMessage, StatsMessage } from './webhook-child.ts';

const CHILD = join(import.meta.dirname, 'webhook-child.ts');

export interface ServerProcess {
  pid: number;
  port: number;
  url: string;
  ready: ReadyMessage;
  stats(): Promise<StatsMessage>;
  stop(): Promise<void>;
}

/** One CA and one serving certificate for 127.0.0.1, shared by every server of a run (same TLS). */
export function benchTls(): { caPem: string; serving: CertificateAndKey } {
  const { ca, serving } = loopbackTls('bench-webhook');
  return { caPem: ca.certPem, serving };
}

export interface StartServerOptions extends StartMessage {
  /** Directory for a V8 CPU profile of the child (--cpu-prof), if wanted. */
  cpuProfileDir?: string;
}

export async function startServer(options: StartServerOptions): Promise<ServerProcess> {
  const { cpuProfileDir, ...start } = options;
  const execArgv = ['--expose-gc'];
  if (cpuProfileDir) {
    mkdirSync(cpuProfileDir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
  }
  const child: ChildProcess = fork(CHILD, [], {
    execPath: process.execPath,
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const next = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== type) return;
        cleanup();
        resolve(message as T);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`webhook child exited with ${code} while waiting for ${type}`));
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const readyPromise = next<ReadyMessage>('ready');
  child.send({ type: 'start', ...start });
  const ready = await readyPromise;
  return {
    pid: child.pid!,
    port: ready.port,
    url: `https://127.0.0.1:${ready.port}`,
    ready,
    async stats() {
      const reply = next<StatsMessage>('stats');
      child.send({ type: 'stats' });
      return reply;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.send({ type: 'stop' });
      await exited;
      clearTimeout(timer);
    },
  };
}
