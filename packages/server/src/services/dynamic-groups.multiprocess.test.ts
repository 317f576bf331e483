import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateDynamicThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteDynamicThingGroupCommand,
  IoTClient,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  UpdateDynamicThingGroupCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { FREE_PORTS, type RunningServer, startServer } from '../main.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

/** A second server on the database of `first` (its own data folder, ports and caches). */
async function secondServer(first: RunningServer, dataDir: string): Promise<RunningServer> {
  const databaseUrl = first.config.databaseUrl ?? `sqlite:${join(first.config.dataDir, 'otter.db')}`;
  return startServer({
    env: {},
    logger: false,
    overrides: {
      ...FREE_PORTS,
      dataDir,
      databaseUrl,
      schedulerIntervalMs: 0,
      accessKeyId: first.accessKeyId,
      secretAccessKey: first.secretAccessKey,
    },
  });
}

for (const backend of BACKENDS) {
  describe(`dynamic thing groups across two servers on one database (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let a: TestServer;
    let b: RunningServer;
    let iotB: IoTClient;
    const dir = mkdtempSync(join(tmpdir(), 'otter-dyn-b-'));
    const members = async (group: string) =>
      (await a.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group }))).things ?? [];
    const setFw = (thingName: string, fw: string) =>
      iotB.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { fw } } }));

    before(async () => {
      a = await startTestServer(backend.name);
      b = await secondServer(a.server, dir);
      iotB = new IoTClient({
        endpoint: b.url,
        region: a.region,
        credentials: { accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey },
        maxAttempts: 1,
      });
    });
    after(async () => {
      iotB?.destroy();
      await b?.close();
      await a?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a group created, re-queried or deleted on A is applied by B to things that change on B', async () => {
      // B loads (and caches) the empty set of dynamic groups.
      await iotB.send(
        new CreateThingCommand({ thingName: 'dev', attributePayload: { attributes: { fw: '1' } } }),
      );
      await setFw('dev', '1.0');

      await a.iot.send(
        new CreateDynamicThingGroupCommand({ thingGroupName: 'fw2', queryString: 'attributes.fw:2*' }),
      );
      assert.deepEqual(await members('fw2'), []);
      await setFw('dev', '2.0');
      assert.deepEqual(await members('fw2'), ['dev'], 'B applies the group A created');

      await a.iot.send(
        new UpdateDynamicThingGroupCommand({
          thingGroupName: 'fw2',
          thingGroupProperties: {},
          queryString: 'attributes.fw:3*',
        }),
      );
      assert.deepEqual(await members('fw2'), [], 'A recomputes on its new query');
      await setFw('dev', '2.1');
      assert.deepEqual(await members('fw2'), [], 'B applies the new query, not the old one');
      await setFw('dev', '3.0');
      assert.deepEqual(await members('fw2'), ['dev']);

      // Deleted on A and re-created as a static group: B must not treat it as dynamic any more.
      await a.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'fw2' }));
      await a.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fw2' }));
      await setFw('dev', '3.1');
      assert.deepEqual(await members('fw2'), []);
      const groups = await iotB.send(new ListThingGroupsForThingCommand({ thingName: 'dev' }));
      assert.deepEqual(groups.thingGroups ?? [], []);

      // B's cache is used while nothing changed: the version read is all it costs.
      const version = await b.store.thingGroups.dynamicVersion();
      await setFw('dev', '3.2');
      assert.equal(await b.store.thingGroups.dynamicVersion(), version);
    });
  });
}
