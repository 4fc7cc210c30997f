// `npm pack` hooks (prepack, and postpack with --clean). Before packing: a
// fresh dist/ (no output of deleted sources) and an npm-shrinkwrap.json copied
// from package-lock.json, so that an installed package gets exactly the
// dependency versions this repository tests (npm reads the shrinkwrap from a
// tarball and leaves out the dev entries). After packing the copy goes again:
// in the checkout package-lock.json stays the one lockfile.
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';

const SHRINKWRAP = 'npm-shrinkwrap.json';

if (process.argv.includes('--clean')) {
  rmSync(SHRINKWRAP, { force: true });
} else {
  rmSync('dist', { recursive: true, force: true });
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  copyFileSync('package-lock.json', SHRINKWRAP);
}
