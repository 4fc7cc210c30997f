// End to end: positions nobody chose cannot collide into an Error. Two
// server processes with leader election sit behind a round-robin proxy (as
// a Service puts them), so each review goes to either replica; 100
// server-side applies without spec.position (a GitOps tool's creates) are
// sent at once straight to the API server. Each replica assigns the next
// free position from its own cache, so many get the same one; the leader
// moves the later claimants apart. All 100 end Active at distinct positions,
// a config sent amid them with a position its author chose keeps it (or is
// refused, naming the config there), a second apply of the same manifests
// changes nothing, and an explicit colliding position is still refused,
// naming the other config.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ASSIGNED_POSITION_ANNOTATION } from '../../src/resource/names.ts';
import type { Product } from '../harness/product.ts';
import {
  ALLOW_HARIKUBE_TARGETS,
  api,
  apply,
  type ApiResponse,
  configPath,
  configYaml,
  entryKey,
  eventsOf,
  readSecret,
  useEnv,
  waitFor,
  withLogs,
} from './support.ts';

const ns = 'e2e-burst';
const TARGET = 'harikube/e2e-burst';
const COUNT = 100;
const MANAGER = 'e2e-gitops';

const env = useEnv({
  webhookProxy: true,
  namespaces: [ns],
  productArgs: [ALLOW_HARIKUBE_TARGETS],
  products: [
    { name: 'replica-a', leaderElect: true },
    { name: 'replica-b', leaderElect: true },
  ],
});

const nameOf = (i: number) => `burst-${i}`;

/** The API server's answer when a webhook did not answer in time (not a verdict). */
const webhookTimedOut = (answer: ApiResponse<{ message?: string }>) =>
  answer.status === 500 &&
  /failed calling webhook .*(context deadline exceeded|timeout)/.test(answer.body.message ?? '');

/** A manifest without spec.position: one backend of its own. */
const manifest = (i: number) => ({
  apiVersion: 'harikube.info/v1',
  kind: 'TopologyConfig',
  metadata: { name: nameOf(i), namespace: ns },
  spec: {
    targetSecret: TARGET,
    backends: [
      {
        name: `${nameOf(i)}-db`,
        endpoint: `sqlite://${nameOf(i)}.db`,
        customresource: { group: `${nameOf(i)}.example.com`, kind: 'things' },
      },
    ],
  },
});

/** Server-side apply, as Flux or Argo CD (ServerSideApply=true) sends it. */
const serverSideApply = (i: number) =>
  api<{ metadata?: { resourceVersion: string }; message?: string }>(
    env.cp,
    'PATCH',
    `${configPath(ns, nameOf(i))}?fieldManager=${MANAGER}`,
    manifest(i),
    'application/apply-patch+yaml',
  );

interface Live {
  metadata: {
    name: string;
    generation: number;
    resourceVersion: string;
    annotations?: Record<string, string>;
    managedFields?: Array<{ manager: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }>;
  };
  spec: { position: number };
  status?: {
    deployStatus?: string;
    deployStatusReason?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string }>;
  };
}

async function listConfigs(): Promise<Live[]> {
  const list = await api<{ items: Live[] }>(
    env.cp,
    'GET',
    `/apis/harikube.info/v1/namespaces/${ns}/topologyconfigs`,
  );
  assert.equal(list.status, 200);
  return list.body.items;
}

const linesOf = (products: Product[], msg: string) =>
  products.flatMap((p) => p.logs().filter((l) => l.msg === msg));

describe('auto-assigned positions, a burst through two replicas', () => {
  test('100 creates without a position end Active at distinct positions; re-applying changes nothing', () =>
    withLogs(env, async ({ cp, products }) => {
      // Both replicas answer through the proxy: only the mutating webhook fills in a position.
      const probe = configYaml({
        name: 'probe',
        namespace: ns,
        targetSecret: TARGET,
        backends: [{ name: 'probe-db', endpoint: 'sqlite://probe.db' }],
      });
      await waitFor(
        'the webhooks to answer through the proxy',
        async () => (await apply(cp, probe, ['--dry-run=server'])).code === 0,
        60_000,
        250,
      );
      const reviewsBefore = products.map((p) => linesOf([p], 'admission review').length);

      // Amid the burst, one config whose author chose position 1, the one
      // the replicas assign first: refused if the replica judging it knew a
      // config there already (naming it), else it keeps 1 and is never moved.
      const chosenManifest = {
        ...manifest(COUNT),
        metadata: { name: 'chosen', namespace: ns },
        spec: { ...manifest(COUNT).spec, position: 1 },
      };
      const applyChosen = () =>
        api<{ message?: string }>(
          cp,
          'PATCH',
          `${configPath(ns, 'chosen')}?fieldManager=${MANAGER}`,
          chosenManifest,
          'application/apply-patch+yaml',
        );
      const started = performance.now();
      const [first, ...burst] = await Promise.all([
        applyChosen(),
        ...Array.from({ length: COUNT }, (_, i) => serverSideApply(i)),
      ]);
      const burstMs = performance.now() - started;
      // A review the starved machine did not answer within the webhook's
      // timeout is sent again, as a GitOps tool's next sync would (counted).
      let resent = 0;
      const answered = async <T extends { message?: string }>(
        answer: ApiResponse<T>,
        send: () => Promise<ApiResponse<T>>,
      ) => {
        for (let attempt = 0; attempt < 3 && webhookTimedOut(answer); attempt++) {
          resent += 1;
          answer = await send();
        }
        return answer;
      };
      const chosenAnswer = await answered(first!, applyChosen);
      const answers: ApiResponse<{ message?: string }>[] = [];
      for (const [i, answer] of burst.entries())
        answers.push(await answered(answer, () => serverSideApply(i)));
      const chosen = chosenAnswer.status === 201;
      if (!chosen) {
        assert.match(
          chosenAnswer.body.message ?? '',
          /spec\.position: 1 is already taken by e2e-burst\/burst-\d+ \(position 1\)/,
        );
      }
      const refused = answers.flatMap((a, i) =>
        a.status === 201 ? [] : [`${nameOf(i)}: ${a.status} ${a.body.message ?? ''}`],
      );
      assert.deepEqual(refused, [], 'every create is admitted: its author chose no position');
      products.forEach((p, i) =>
        assert.ok(
          linesOf([p], 'admission review').length > reviewsBefore[i]!,
          `${p.name} answered reviews of the burst`,
        ),
      );

      const ready = (c: Live) =>
        c.status?.deployStatus === 'Active' &&
        c.status.observedGeneration === c.metadata.generation &&
        c.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
      const final = (c: Live | undefined) =>
        c !== undefined &&
        (ready(c) ||
          (c.status?.deployStatus === 'Error' &&
            c.status.observedGeneration === c.metadata.generation));
      let last: Live[] = [];
      const settled = await waitFor(
        // Ready too: no status write comes after it to change a resourceVersion.
        'all 100 Active and Ready at their generation',
        async () => {
          last = await listConfigs();
          const burst = last.filter((c) => c.metadata.name !== 'chosen');
          const done =
            burst.length === COUNT &&
            burst.every(ready) &&
            (!chosen || final(last.find((c) => c.metadata.name === 'chosen')));
          return done ? burst : undefined;
        },
        180_000,
        500,
      ).catch((error: Error) => {
        const pending = last
          .filter((c) => c.status?.deployStatus !== 'Active')
          .map((c) => `${c.metadata.name}@${c.spec.position} ${c.status?.deployStatus ?? '-'}`);
        error.message += ` (not Active: ${pending.slice(0, 10).join(', ')})`;
        throw error;
      });

      const settleMs = performance.now() - started - burstMs;
      const positions = settled.map((c) => c.spec.position);
      assert.equal(new Set(positions).size, COUNT, `distinct positions: ${positions.join(',')}`);
      // The config that chose its position keeps it: Active, or (when a
      // burst config was merged there before it was seen) Error naming it.
      const chosenLive = last.find((c) => c.metadata.name === 'chosen');
      if (chosenLive) {
        assert.equal(chosenLive.spec.position, 1, 'a position its author chose is never moved');
        assert.equal(chosenLive.metadata.annotations?.[ASSIGNED_POSITION_ANNOTATION], undefined);
        if (ready(chosenLive)) assert.ok(!positions.includes(1), 'the burst moved off position 1');
        else assert.match(chosenLive.status?.deployStatusReason ?? '', /e2e-burst\/burst-\d+/);
      }
      for (const c of settled) {
        assert.equal(
          c.metadata.annotations?.[ASSIGNED_POSITION_ANNOTATION],
          String(c.spec.position),
          `${c.metadata.name}: the position is marked as the product's`,
        );
      }
      const moves = linesOf(products, 'assigned position moved');
      const refusedMoves = linesOf(products, 'moving an assigned position was refused');
      const reviews = products.map(
        (p, i) => `${p.name} ${linesOf([p], 'admission review').length - reviewsBefore[i]!}`,
      );
      console.log(
        `# ${COUNT} applies answered in ${burstMs.toFixed(0)} ms (reviews: ${reviews.join(', ')}); ` +
          `${resent} reviews timed out and were sent again; ` +
          `${moves.length} positions moved (${refusedMoves.length} moves refused and retried); ` +
          `the config that chose position 1: ${chosenLive ? `${chosenLive.status?.deployStatus} at 1` : 'refused'}; ` +
          `all Active and Ready ${settleMs.toFixed(0)} ms after the burst`,
      );
      assert.ok(moves.length > 0, 'the burst collided (else this test shows nothing)');
      const secret = await readSecret(cp, 'harikube', 'e2e-burst');
      assert.deepEqual(
        Object.keys(secret?.data ?? {}),
        last
          .filter(ready)
          .map((c) => entryKey(c.spec.position, ns, c.metadata.name))
          .sort((a, b) => (a < b ? -1 : 1)),
      );
      const moved = String(moves[0]!.object).split('/')[1]!;
      const events = await eventsOf(cp, ns, moved);
      assert.ok(
        events.some(
          (e) => e.reason === 'PositionMoved' && /is also taken by e2e-burst\//.test(e.message),
        ),
        `${moved} has an Event saying why it moved: ${JSON.stringify(events)}`,
      );

      // GitOps: the same manifests again change nothing (no drift, no fight
      // with the reconciler), and kubectl diff --server-side is empty.
      // Ten at a time, as a sync applies (all at once only loads the machine:
      // the race is over).
      const again: Awaited<ReturnType<typeof serverSideApply>>[] = [];
      for (let i = 0; i < COUNT; i += 10) {
        const batch = Array.from({ length: 10 }, (_, j) =>
          serverSideApply(i + j).then((a) => answered(a, () => serverSideApply(i + j))),
        );
        again.push(...(await Promise.all(batch)));
      }
      const before = new Map(settled.map((c) => [c.metadata.name, c.metadata.resourceVersion]));
      again.forEach((a, i) => {
        assert.equal(a.status, 200, `${nameOf(i)} re-applied: ${a.body.message ?? ''}`);
        assert.equal(
          a.body.metadata?.resourceVersion,
          before.get(nameOf(i)),
          `${nameOf(i)} unchanged by a second apply`,
        );
      });
      const index = Number(moved.slice('burst-'.length));
      const diff = await cp.kubectl(
        ['diff', '--server-side', `--field-manager=${MANAGER}`, '-f', '-'],
        { input: JSON.stringify(manifest(index)) },
      );
      assert.equal(
        diff.code,
        0,
        `kubectl diff --server-side of ${moved}: ${diff.stdout}${diff.stderr}`,
      );
      const live = settled.find((c) => c.metadata.name === moved)!;
      const owners = (live.metadata.managedFields ?? [])
        .filter((f) => f.fieldsV1?.['f:spec']?.['f:position'] !== undefined)
        .map((f) => f.manager);
      assert.ok(
        !owners.includes(MANAGER),
        `the applier does not own the moved position: ${owners}`,
      );

      // A position its author writes is judged as before: a taken one is refused.
      const taken = live.spec.position;
      const explicit = await apply(
        cp,
        configYaml({
          name: 'explicit',
          namespace: ns,
          position: taken,
          targetSecret: TARGET,
          backends: [{ name: 'explicit-db', endpoint: 'sqlite://explicit.db' }],
        }),
      );
      assert.notEqual(explicit.code, 0, 'an explicit colliding position is refused');
      assert.match(
        explicit.stderr,
        new RegExp(
          `spec.position: ${taken} is already taken by ${ns}/${moved} \\(position ${taken}\\)`,
        ),
      );
    }));
});
