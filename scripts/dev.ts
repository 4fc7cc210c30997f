// The README's run command: the whole product on a local, real control plane.
// Starts etcd, kube-apiserver and kube-controller-manager (built from source
// on first use; namespaces terminate, default ServiceAccounts appear), installs the
// CRD, RBAC and webhook configurations of deploy/overlays/local, starts the
// server, shows one config admitted and Active and one rejected, then keeps
// everything running until Ctrl-C.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startControlPlane } from '../test/harness/controlplane.ts';
import { freePort, registerWebhooks, startProduct, type Product } from '../test/harness/product.ts';

const repo = resolve(import.meta.dirname, '..');
const say = (text: string) => process.stdout.write(`\n==> ${text}\n`);

say(
  'starting etcd, kube-apiserver and kube-controller-manager on loopback (the first run builds them, ~6 min)',
);
const cp = await startControlPlane();
const kubeconfig = join(repo, 'certs', 'kubeconfig');
mkdirSync(join(repo, 'certs'), { recursive: true });
copyFileSync(cp.kubeconfigPath, kubeconfig);
let product: Product | undefined;
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  say('stopping');
  await product?.stop();
  await cp.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const port = await freePort();
say(`installing deploy/overlays/local (CRD, RBAC, webhooks → https://127.0.0.1:${port})`);
await registerWebhooks(cp, port);

say('starting the server (webhook + reconciler)');
product = await startProduct(cp, {
  name: 'topology-webhook',
  webhookPort: port,
  args: ['--log-level=info'],
});
await product.waitReady(60_000);

const kubectl = async (args: string[]) => {
  process.stdout.write(`$ kubectl ${args.join(' ')}\n`);
  const result = await cp.kubectl(args);
  process.stdout.write(result.stdout + result.stderr);
  return result;
};
say('a valid config is admitted and becomes Active');
await kubectl(['apply', '-f', join(repo, 'deploy/examples/valid.yaml')]);
await kubectl([
  'wait',
  '--for=jsonpath={.status.deployStatus}=Active',
  'topologyconfig/shirts',
  '--timeout=30s',
]);
await kubectl(['get', 'topologyconfigs', '-A']);
say('an invalid config is rejected with the reasons');
await kubectl(['apply', '-f', join(repo, 'deploy/examples/invalid.yaml')]);
say('the merged Secret the middleware reads');
await kubectl(['get', 'secret', '-n', 'harikube', 'topology-config', '-o', 'jsonpath={.data}']);

say('running. Try it yourself:');
process.stdout.write(
  `  export KUBECONFIG=${kubeconfig}\n` +
    `  kubectl get topologyconfigs -A\n` +
    `  server log: ${join(cp.dir, 'topology-webhook.log')}\n` +
    `Press Ctrl-C to stop everything.\n`,
);
await new Promise(() => {});
