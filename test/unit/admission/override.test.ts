// The override of an unsafe routing change is authorised per request, for
// the request's own user, in every namespace the change touches; the
// annotation alone admits nothing. The authorizer here answers as a table of
// (user, namespace) pairs; the e2e tests ask the real API server.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateTopologyConfig } from '../../../src/admission/handlers.ts';
import type { OverrideAuthorizer, UserInfo } from '../../../src/admission/override.ts';
import { overrideAccessReview } from '../../../src/admission/override.ts';
import { decodeReview } from '../../../src/admission/review.ts';
import { ALLOW_ROUTING_CHANGE_ANNOTATION } from '../../../src/resource/names.ts';
import type { TopologyConfig } from '../../../src/resource/types.ts';
import { ConfigIndex } from '../../../src/rules/config-index.ts';
import { policy } from '../rules/fixtures.ts';
import { review, topologyConfig } from './fixtures.ts';

const ALLOW = { [ALLOW_ROUTING_CHANGE_ANNOTATION]: 'true' };
const active = (annotations?: Record<string, string>): TopologyConfig => {
  const c = topologyConfig({ position: 5 });
  c.status = { deployStatus: 'Active' };
  if (annotations) c.metadata.annotations = annotations;
  return c;
};
const renamed = (annotations?: Record<string, string>): TopologyConfig => {
  const c = active(annotations);
  c.spec.backends[0]!.name = 'renamed-db';
  return c;
};

/** Who may override where: `user@namespace`. */
function authorizer(allowed: string[], asked: string[] = []): OverrideAuthorizer {
  return async (user: UserInfo, namespace: string) => {
    asked.push(`${user.username}@${namespace}`);
    return { allowed: allowed.includes(`${user.username}@${namespace}`) };
  };
}

async function judge(
  body: ReturnType<typeof review>,
  authorize: OverrideAuthorizer | undefined,
  index = new ConfigIndex(),
) {
  return validateTopologyConfig(decodeReview(body), {
    view: index,
    policy,
    authorizeOverride: authorize,
  });
}

const as = (username: string) => ({ userInfo: { username, groups: ['system:authenticated'] } });

describe('override of an unsafe routing change', () => {
  test('honoured for an authorised user who sets the annotation, with a warning naming them', async () => {
    const asked: string[] = [];
    const response = await judge(
      review('UPDATE', renamed(ALLOW), active(), as('alice')),
      authorizer(['alice@team-a'], asked),
    );
    assert.equal(response.allowed, true);
    assert.deepEqual(asked, ['alice@team-a']);
    assert.match(
      response.warnings![0]!,
      /admitted under .* for user "alice", authorised to override in namespace team-a/,
    );
  });

  test('refused for a user RBAC does not allow, naming the permission and where it is granted', async () => {
    const response = await judge(
      review('UPDATE', renamed(ALLOW), active(), as('tenant')),
      authorizer(['alice@team-a']),
    );
    assert.equal(response.allowed, false);
    assert.match(
      response.status!.message,
      /the override is not authorised for user "tenant": RBAC does not allow the verb "override" on topologyconfigs.harikube.info in namespace team-a \(the platform team binds ClusterRole topologyconfig-routing-override there\)/,
    );
  });

  test('an annotation already on the object grants nothing to the next editor', async () => {
    // alice set it earlier; the tenant edits now, leaving it in place.
    const response = await judge(
      review('UPDATE', renamed(ALLOW), active(ALLOW), as('tenant')),
      authorizer(['alice@team-a']),
    );
    assert.equal(response.allowed, false);
  });

  test('without the annotation, even an authorised user is refused (and RBAC is not asked)', async () => {
    const asked: string[] = [];
    const response = await judge(
      review('UPDATE', renamed(), active(), as('alice')),
      authorizer(['alice@team-a'], asked),
    );
    assert.equal(response.allowed, false);
    assert.deepEqual(asked, []);
  });

  test('DELETE of an Active config: the deleting user is asked', async () => {
    const body = (user: string) => review('DELETE', null, active(ALLOW), as(user));
    assert.equal((await judge(body('alice'), authorizer(['alice@team-a']))).allowed, true);
    assert.equal((await judge(body('tenant'), authorizer(['alice@team-a']))).allowed, false);
  });

  test('a change touching two namespaces needs the permission in both', async () => {
    const index = new ConfigIndex();
    const incumbent = topologyConfig({ position: 5 }, 'incumbent');
    incumbent.status = { deployStatus: 'Active' };
    index.upsert(incumbent);
    const newcomer = topologyConfig({ position: 2 }, 'newcomer');
    newcomer.metadata.namespace = 'team-b';
    newcomer.metadata.annotations = ALLOW;
    // First match: the whole group takes the incumbent's kind.
    newcomer.spec.backends[0]!.customresource = { group: 'stable.example.com' };
    const body = review('CREATE', newcomer, undefined, as('bob'));
    const onlyOwn = await judge(body, authorizer(['bob@team-b']), index);
    assert.equal(onlyOwn.allowed, false);
    assert.match(onlyOwn.status!.message, /in namespace team-a \(/);
    assert.equal(
      (await judge(body, authorizer(['bob@team-a', 'bob@team-b']), index)).allowed,
      true,
    );
  });

  test('other errors are never overridden', async () => {
    const bad = renamed(ALLOW);
    bad.spec.backends[0]!.name = 'Not A Name';
    const response = await judge(
      review('UPDATE', bad, active(), as('alice')),
      authorizer(['alice@team-a']),
    );
    assert.equal(response.allowed, false);
  });

  test('an update of only the annotations is judged (no override without an unsafe change is needed)', async () => {
    const same = active(ALLOW);
    const response = await judge(review('UPDATE', same, active(), as('tenant')), authorizer([]));
    assert.equal(response.allowed, true);
  });

  test('offline (no authorizer), the override is never honoured', async () => {
    assert.equal(
      (await judge(review('UPDATE', renamed(ALLOW), active(), as('alice')), undefined)).allowed,
      false,
    );
  });

  test('the SubjectAccessReview carries the request user, groups, uid and extra', () => {
    const user = { username: 'u', uid: '1', groups: ['g'], extra: { scopes: ['s'] } };
    assert.deepEqual(overrideAccessReview(user, 'team-a').spec, {
      user: 'u',
      uid: '1',
      groups: ['g'],
      extra: { scopes: ['s'] },
      resourceAttributes: {
        namespace: 'team-a',
        verb: 'override',
        group: 'harikube.info',
        resource: 'topologyconfigs',
      },
    });
  });
});

test('an annotation-only update of a config the Secret keeps in Error is admitted (so it can be deleted)', async () => {
  const kept = active();
  kept.status = { deployStatus: 'Error', keptInSecret: true };
  kept.spec.backends[0]!.name = 'Not A Name'; // whatever its spec's faults, they are not judged again
  const annotated = structuredClone(kept);
  annotated.metadata.annotations = ALLOW;
  const response = await judge(review('UPDATE', annotated, kept, as('tenant')), authorizer([]));
  assert.equal(response.allowed, true);
});
