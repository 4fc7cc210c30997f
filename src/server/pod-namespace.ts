// The Pod's namespace when the manifest does not pass it: controller-runtime
// reads it from the ServiceAccount volume, so the seed's Deployment (which sets
// no POD_NAMESPACE) runs this image unchanged.
import { readFileSync } from 'node:fs';

export const SERVICE_ACCOUNT_NAMESPACE_FILE =
  '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** `env` with POD_NAMESPACE from the ServiceAccount volume when it is unset and the file is there. */
export function withPodNamespace(
  env: NodeJS.ProcessEnv,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): NodeJS.ProcessEnv {
  if (env.POD_NAMESPACE) return env;
  let namespace: string;
  try {
    namespace = read(SERVICE_ACCOUNT_NAMESPACE_FILE).trim();
  } catch {
    return env; // not in a Pod (or no token mounted): the flags must say it
  }
  return namespace ? { ...env, POD_NAMESPACE: namespace } : env;
}
