import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  SERVICE_ACCOUNT_NAMESPACE_FILE,
  withPodNamespace,
} from '../../../src/server/pod-namespace.ts';
import { parseConfig } from '../../../src/server/config.ts';

const volume = (files: Record<string, string>) => (path: string) => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  return text;
};

describe('the Pod namespace from the ServiceAccount volume', () => {
  test('fills POD_NAMESPACE when unset, so --leader-elect alone works as in the seed Deployment', () => {
    const env = withPodNamespace(
      {},
      volume({ [SERVICE_ACCOUNT_NAMESPACE_FILE]: 'harikube-system\n' }),
    );
    assert.equal(env.POD_NAMESPACE, 'harikube-system');
    const config = parseConfig(['--leader-elect', '--health-probe-bind-address=:8081'], env);
    assert.equal(config.leaderElection.namespace, 'harikube-system');
  });

  test('an explicit POD_NAMESPACE wins', () => {
    const env = withPodNamespace(
      { POD_NAMESPACE: 'mine' },
      volume({ [SERVICE_ACCOUNT_NAMESPACE_FILE]: 'other' }),
    );
    assert.equal(env.POD_NAMESPACE, 'mine');
  });

  test('outside a Pod nothing is added, and --leader-elect without a namespace stays an error', () => {
    const env = withPodNamespace({}, volume({}));
    assert.equal(env.POD_NAMESPACE, undefined);
    assert.throws(() => parseConfig(['--leader-elect'], env), /leader-election-namespace/);
  });
});
