// The released command-line tools some tests run (helm, promtool) and
// prometheus-operator's CRDs, built or copied by test/tools/install.sh from
// the Go module proxy into a cache outside the repository. The first call on a
// fresh machine builds them (minutes); later calls only look them up.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const INSTALL = resolve(import.meta.dirname, '../tools/install.sh');

const dirs = new Map<string, string>();

/** The cache directory, once `tool` is in it (helm, promtool or prometheus-operator-crd). */
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

export const helmBin = (): string => join(installed('helm'), 'helm');
export const promtoolBin = (): string => join(installed('promtool'), 'promtool');
/** prometheus-operator's ServiceMonitor and PrometheusRule CRD files. */
export const prometheusOperatorCrds = (): string[] =>
  ['servicemonitors', 'prometheusrules'].map((plural) =>
    join(
      installed('prometheus-operator-crd'),
      'prometheus-operator-crd',
      `monitoring.coreos.com_${plural}.yaml`,
    ),
  );
