// The Go command-line tools the tests run, from the Go module proxy into a
// cache outside the repository; the first call on a fresh machine builds them
// (minutes), later calls only look them up:
// - chainsaw (from a patched copy of its module) and prometheus-operator's
//   CRDs, by test/tools/install.sh;
// - the health oracles of the one pinned module test/tools/ (gopher-lua for
//   Argo CD health checks, Flux's CEL health expressions, kstatus) and the
//   released helm and promtool, named in its go.mod with `tool`, by
//   test/tools/build.sh.
import { execFile, execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { runBuildScript } from './controlplane.ts';

const INSTALL = resolve(import.meta.dirname, '../tools/install.sh');

const dirs = new Map<string, string>();

/** The cache directory, once `tool` is in it (chainsaw or prometheus-operator-crd). */
function installed(tool: string): string {
  let dir = dirs.get(tool);
  if (!dir) {
    dir = execFileSync('bash', [INSTALL, tool], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    dirs.set(tool, dir);
  }
  return dir;
}

/** kyverno's chainsaw (the longest build: scripts/test.ts starts it in the background). */
export const chainsawBin = (): string => join(installed('chainsaw'), 'chainsaw');
/** prometheus-operator's ServiceMonitor and PrometheusRule CRD files. */
export const prometheusOperatorCrds = (): string[] =>
  ['servicemonitors', 'prometheusrules'].map((plural) =>
    join(
      installed('prometheus-operator-crd'),
      'prometheus-operator-crd',
      `monitoring.coreos.com_${plural}.yaml`,
    ),
  );

// --- the health oracles of test/tools/ --------------------------------------

const REPO = resolve(import.meta.dirname, '../..');
const BUILD_SCRIPT = join(REPO, 'test/tools/build.sh');

export interface ToolResult {
  source: string;
  namespace?: string;
  name: string;
  status: string;
  message: string;
}

let binDir: Promise<string> | undefined;

/** The directory of the built tools (a cache lookup once built). */
export function toolsDir(): Promise<string> {
  binDir ??= runBuildScript(BUILD_SCRIPT);
  return binDir;
}

/** helm and promtool, built with the oracles (they share their k8s.io modules). */
export const helmBin = async (): Promise<string> => join(await toolsDir(), 'helm');
export const promtoolBin = async (): Promise<string> => join(await toolsDir(), 'promtool');

/** Runs a tool over files (or `-` with `input` on stdin); its JSON results. */
export async function runTool(
  tool: 'argocd-health' | 'flux-health' | 'kstatus',
  args: readonly string[],
  input?: string,
): Promise<ToolResult[]> {
  const bin = join(await toolsDir(), tool);
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { cwd: REPO, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${tool} ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as ToolResult[]);
      },
    );
    // A tool reading files may exit before its stdin is written: that EPIPE
    // is no result (a tool that needed the input fails on its own).
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}
