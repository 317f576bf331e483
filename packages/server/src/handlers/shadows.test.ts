import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreatePackageCommand, CreatePackageVersionCommand, CreateThingCommand } from '@aws-sdk/client-iot';
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  ListNamedShadowsForThingCommand,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { ManualClock } from '@otter/core';
import type { AwsContext } from '../aws/aws-plane.js';
import { createDatabase, RegistryStore } from '../store/index.js';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';
import { shadowHandlers } from './shadows.js';

const text = (b: string | object) => new TextEncoder().encode(typeof b === 'string' ? b : JSON.stringify(b));
// biome-ignore lint/suspicious/noExplicitAny: shadow documents are free-form JSON
const doc = (payload: Uint8Array | undefined): any => JSON.parse(new TextDecoder().decode(payload));

for (const backend of BACKENDS) {
  describe(`shadows through @aws-sdk/client-iot-data-plane (${backend.name})`, { skip: backend.skip }, () => {
    let s: TestServer;
    const update = (thingName: string, body: string | object, shadowName?: string) =>
      s.data.send(new UpdateThingShadowCommand({ thingName, shadowName, payload: text(body) }));
    const get = async (thingName: string, shadowName?: string) =>
      doc((await s.data.send(new GetThingShadowCommand({ thingName, shadowName }))).payload);

    before(async () => {
      s = await startTestServer(backend.name);
      for (const thingName of ['lamp', 'meter', 'quiet'])
        await s.iot.send(new CreateThingCommand({ thingName }));
    });
    after(() => s?.close());

    test('classic shadow: update, get with delta, delete', async () => {
      await rejects(
        s.data.send(new GetThingShadowCommand({ thingName: 'lamp' })),
        'ResourceNotFoundException',
        404,
        /No shadow exists with name: 'lamp'/,
      );
      const r1 = doc(
        (await update('lamp', { state: { desired: { color: 'red', level: 3 } }, clientToken: 'tok-1' }))
          .payload,
      );
      assert.deepEqual(r1.state, { desired: { color: 'red', level: 3 } });
      assert.equal(r1.version, 1);
      assert.equal(r1.clientToken, 'tok-1');
      assert.equal(typeof r1.metadata.desired.color.timestamp, 'number');
      assert.equal(typeof r1.timestamp, 'number');

      await update('lamp', { state: { reported: { color: 'green', level: 3 } } });
      const g = await get('lamp');
      assert.deepEqual(g.state, {
        desired: { color: 'red', level: 3 },
        reported: { color: 'green', level: 3 },
        delta: { color: 'red' },
      });
      assert.equal(g.version, 2);
      assert.ok(g.metadata.reported.level.timestamp);

      // Matching the reported state clears the delta.
      await update('lamp', { state: { reported: { color: 'red' } }, version: 2 });
      const g2 = await get('lamp');
      assert.equal(g2.state.delta, undefined);
      assert.equal(g2.version, 3);

      const del = doc((await s.data.send(new DeleteThingShadowCommand({ thingName: 'lamp' }))).payload);
      assert.equal(del.version, 3);
      assert.equal(typeof del.timestamp, 'number');
      await rejects(
        s.data.send(new GetThingShadowCommand({ thingName: 'lamp' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.data.send(new DeleteThingShadowCommand({ thingName: 'lamp' })),
        'ResourceNotFoundException',
        404,
        /No shadow exists with name: 'lamp'/,
      );
      // Re-created after deletion, the shadow continues from the deleted version (AWS keeps it 48 hours).
      const again = doc((await update('lamp', { state: { reported: { color: 'blue' } } })).payload);
      assert.equal(again.version, 4);
    });

    test('named shadows are separate from the classic shadow', async () => {
      await update('meter', { state: { reported: { kwh: 12 } } });
      await update('meter', { state: { desired: { interval: 60 } } }, 'config');
      assert.deepEqual((await get('meter')).state, { reported: { kwh: 12 } });
      const named = await get('meter', 'config');
      assert.deepEqual(named.state, { desired: { interval: 60 }, delta: { interval: 60 } });
      assert.equal(named.version, 1);
      await rejects(
        s.data.send(new GetThingShadowCommand({ thingName: 'meter', shadowName: 'other' })),
        'ResourceNotFoundException',
        404,
        /No shadow exists with name: 'other'/,
      );
      const del = doc(
        (await s.data.send(new DeleteThingShadowCommand({ thingName: 'meter', shadowName: 'config' })))
          .payload,
      );
      assert.equal(del.version, 1);
      assert.deepEqual((await get('meter')).state, { reported: { kwh: 12 } });
      await rejects(
        s.data.send(new GetThingShadowCommand({ thingName: 'meter', shadowName: 'config' })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('errors: version conflict, unknown thing, invalid JSON, oversized — and nothing changes', async () => {
      await update('quiet', { state: { reported: { on: true } } });
      const before = await get('quiet');
      assert.equal(before.version, 1);

      await rejects(
        update('quiet', { state: { reported: { on: false } }, version: 7 }),
        'ConflictException',
        409,
        /Version conflict/,
      );
      await rejects(update('quiet', '{"state": {'), 'InvalidRequestException', 400, /Invalid JSON/);
      await rejects(
        update('quiet', { desired: { on: false } }),
        'InvalidRequestException',
        400,
        /Missing required node: state/,
      );
      await rejects(
        update('quiet', { state: { reported: { blob: 'x'.repeat(9 * 1024) } } }),
        'RequestEntityTooLargeException',
        413,
      );
      const after = await get('quiet');
      assert.equal(after.version, 1);
      assert.deepEqual(after.state, before.state);
      assert.deepEqual(after.metadata, before.metadata);

      await rejects(update('ghost', { state: { reported: { on: true } } }), 'ResourceNotFoundException', 404);
      await rejects(
        s.data.send(new GetThingShadowCommand({ thingName: 'ghost' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.data.send(new DeleteThingShadowCommand({ thingName: 'ghost' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.data.send(new ListNamedShadowsForThingCommand({ thingName: 'ghost' })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('concurrent updates of one shadow are all applied, one version each', async () => {
      await s.iot.send(new CreateThingCommand({ thingName: 'busy' }));
      const n = 8;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => update('busy', { state: { reported: { [`k${i}`]: i } } })),
      );
      const versions = results.map((r) => doc(r.payload).version).sort((a, b) => a - b);
      assert.deepEqual(
        versions,
        Array.from({ length: n }, (_, i) => i + 1),
      );
      const g = await get('busy');
      assert.equal(g.version, n);
      assert.equal(Object.keys(g.state.reported).length, n);
    });

    test('$package is an allowed shadow name, other $ names are reserved', async () => {
      // $package entries must name catalog versions (package-shadow.test.ts covers the checks).
      await s.iot.send(new CreatePackageCommand({ packageName: 'agent' }));
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'agent', versionName: '1.2.0' }));
      await update('quiet', { state: { reported: { agent: { version: '1.2.0' } } } }, '$package');
      assert.deepEqual((await get('quiet', '$package')).state.reported, { agent: { version: '1.2.0' } });
      await rejects(
        update('quiet', { state: { reported: { a: 1 } } }, '$foo'),
        'InvalidRequestException',
        400,
        /reserved/,
      );
      await rejects(
        s.data.send(new GetThingShadowCommand({ thingName: 'quiet', shadowName: '$foo' })),
        'InvalidRequestException',
        400,
      );
      await rejects(
        update('quiet', { state: { reported: { a: 1 } } }, 'bad/name'),
        'InvalidRequestException',
        400,
        /regular expression/,
      );
      await s.data.send(new DeleteThingShadowCommand({ thingName: 'quiet', shadowName: '$package' }));
    });

    test('list named shadows with pagination', async () => {
      await s.iot.send(new CreateThingCommand({ thingName: 'multi' }));
      await update('multi', { state: { reported: { classic: true } } });
      const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
      for (const name of names) await update('multi', { state: { reported: { name } } }, name);
      const seen: string[] = [];
      let nextToken: string | undefined;
      let pages = 0;
      do {
        const page = await s.data.send(
          new ListNamedShadowsForThingCommand({ thingName: 'multi', pageSize: 2, nextToken }),
        );
        assert.ok((page.results ?? []).length <= 2);
        assert.equal(typeof page.timestamp, 'number');
        seen.push(...(page.results ?? []));
        nextToken = page.nextToken;
        pages++;
      } while (nextToken);
      assert.deepEqual(seen, names); // the classic shadow is not listed
      assert.equal(pages, 3);
      const all = await s.data.send(new ListNamedShadowsForThingCommand({ thingName: 'lamp' }));
      assert.deepEqual(all.results, []);
      assert.equal(all.nextToken, undefined);
      await rejects(
        s.data.send(new ListNamedShadowsForThingCommand({ thingName: 'multi', pageSize: 0 })),
        'InvalidRequestException',
        400,
      );
    });
  });
}

describe('shadowHandlers notify onThingChanged', () => {
  let dir: string;
  let store: RegistryStore;
  let close: () => Promise<void>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otter-shadows-'));
    const db = await createDatabase(undefined, dir);
    store = new RegistryStore(db);
    close = () => db.close();
  });
  after(async () => {
    await close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  test('after accepted updates and deletes only', async () => {
    const clock = new ManualClock();
    const changed: string[] = [];
    const h = shadowHandlers(store, clock, async (change) => {
      changed.push(change.thingName);
    });
    const ctx = {} as AwsContext;
    await store.things.create({ thingName: 'dev' }, clock.now());
    const body = (x: object) => Buffer.from(JSON.stringify(x));
    await h.UpdateThingShadow!({ thingName: 'dev', payload: body({ state: { reported: { a: 1 } } }) }, ctx);
    await assert.rejects(
      h.UpdateThingShadow!({ thingName: 'dev', payload: body({ state: {}, version: 9 }) }, ctx),
    );
    await assert.rejects(h.DeleteThingShadow!({ thingName: 'dev', shadowName: 'none' }, ctx));
    const out = await h.GetThingShadow!({ thingName: 'dev' }, ctx);
    assert.ok(Buffer.isBuffer(out?.payload));
    await h.DeleteThingShadow!({ thingName: 'dev' }, ctx);
    assert.deepEqual(changed, ['dev', 'dev']);
  });

  test('an update that loses a race with another writer is re-applied to the newer shadow', async () => {
    const clock = new ManualClock();
    let changes = 0;
    const h = shadowHandlers(store, clock, async () => {
      changes++;
    });
    const ctx = {} as AwsContext;
    await store.things.create({ thingName: 'racy' }, clock.now());
    // Let every reader see the shadow before anyone writes, so all but one writer conflict.
    const shadows = store.shadows;
    const get = shadows.get.bind(shadows);
    let reads = 0;
    shadows.get = async (thing, name) => {
      const r = await get(thing, name);
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
      return r;
    };
    try {
      const body = (x: object) => Buffer.from(JSON.stringify(x));
      const out = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          h.UpdateThingShadow!(
            { thingName: 'racy', payload: body({ state: { reported: { [`k${i}`]: i } } }) },
            ctx,
          ),
        ),
      );
      const versions = out.map((o) => JSON.parse(String(o!.payload)).version as number).sort((a, b) => a - b);
      assert.deepEqual(versions, [1, 2, 3, 4]);
      assert.ok(reads > 4, 'some updates were retried');
      assert.equal(changes, 4);
      // A client-supplied version that a concurrent writer made stale is a ConflictException, not a retry.
      const racing = [5, 5].map((_, i) =>
        h.UpdateThingShadow!(
          { thingName: 'racy', payload: body({ state: { desired: { i } }, version: 4 }) },
          ctx,
        ),
      );
      const settled = await Promise.allSettled(racing);
      assert.equal(settled.filter((r) => r.status === 'fulfilled').length, 1);
      const failed = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.equal(failed.reason.type, 'ConflictException');
    } finally {
      shadows.get = get;
    }
    const final = await store.shadows.get('racy', '');
    assert.equal(final?.version, 5);
    assert.deepEqual(Object.keys(final?.state.reported ?? {}).sort(), ['k0', 'k1', 'k2', 'k3']);
  });
});
