import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateDynamicThingGroupCommand,
  CreatePackageCommand,
  CreatePackageVersionCommand,
  CreateThingCommand,
  ListThingsInThingGroupCommand,
  SearchIndexCommand,
  UpdateIndexingConfigurationCommand,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

const QUERY = 'shadow.name.$package.reported.samplePackage.version:1.5.*';

for (const backend of BACKENDS) {
  describe(`the $package shadow against the package catalog (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    const update = (thingName: string, state: object) =>
      s.data.send(
        new UpdateThingShadowCommand({
          thingName,
          shadowName: '$package',
          payload: new TextEncoder().encode(JSON.stringify({ state })),
        }),
      );
    const shadow = async (thingName: string) =>
      JSON.parse(
        new TextDecoder().decode(
          (await s.data.send(new GetThingShadowCommand({ thingName, shadowName: '$package' }))).payload,
        ),
      ) as {
        version: number;
        state: { reported?: Record<string, unknown>; desired?: Record<string, unknown> };
      };
    const search = async (queryString: string) =>
      ((await s.iot.send(new SearchIndexCommand({ queryString }))).things ?? [])
        .map((t) => t.thingName)
        .sort();
    const members = async (thingGroupName: string) =>
      ((await s.iot.send(new ListThingsInThingGroupCommand({ thingGroupName }))).things ?? []).sort();

    before(async () => {
      s = await startTestServer(backend.name);
      await s.iot.send(
        new UpdateIndexingConfigurationCommand({
          thingIndexingConfiguration: {
            thingIndexingMode: 'REGISTRY_AND_SHADOW',
            namedShadowIndexingMode: 'ON',
            filter: { namedShadowNames: ['$package'] },
          },
        }),
      );
      for (const thingName of ['dev-1', 'dev-2', 'dev-3'])
        await s.iot.send(new CreateThingCommand({ thingName }));
      await s.iot.send(new CreatePackageCommand({ packageName: 'samplePackage' }));
      await s.iot.send(new CreatePackageCommand({ packageName: 'agent' }));
      for (const versionName of ['1.5.0', '1.5.2', '2.0.0'])
        await s.iot.send(new CreatePackageVersionCommand({ packageName: 'samplePackage', versionName }));
      await s.iot.send(new CreatePackageVersionCommand({ packageName: 'agent', versionName: '0.9' }));
      await s.iot.send(new CreateDynamicThingGroupCommand({ thingGroupName: 'on-1-5', queryString: QUERY }));
    });
    after(() => s?.close());

    test('catalog versions are accepted, searchable, and drive dynamic groups', async () => {
      await update('dev-1', {
        reported: {
          samplePackage: { version: '1.5.2', attributes: { variant: 'lte' } },
          agent: { version: '0.9' },
        },
      });
      await update('dev-2', { reported: { samplePackage: { version: '2.0.0' } } });
      await update('dev-3', {
        reported: { samplePackage: { version: '1.5.0' } },
        desired: { samplePackage: { version: '2.0.0' } },
      });
      assert.deepEqual(await search(QUERY), ['dev-1', 'dev-3']);
      assert.deepEqual(await search('shadow.name.$package.reported.samplePackage.attributes.variant:lte'), [
        'dev-1',
      ]);
      assert.deepEqual(await members('on-1-5'), ['dev-1', 'dev-3']);

      // The device updated to 2.0.0: it leaves the group; null removes an entry without any check.
      await update('dev-3', {
        reported: { samplePackage: { version: '2.0.0' } },
        desired: { samplePackage: null },
      });
      assert.deepEqual(await members('on-1-5'), ['dev-1']);
      await update('dev-1', { reported: { agent: null } });
      assert.deepEqual(Object.keys((await shadow('dev-1')).state.reported ?? {}), ['samplePackage']);
    });

    test('unknown packages and versions are refused, naming them; nothing changes', async () => {
      await update('dev-2', { reported: { samplePackage: { version: '2.0.0' } } });
      const before = await shadow('dev-2');
      await rejects(
        update('dev-2', { reported: { samplePackage: { version: '1.5.9' }, ghost: { version: '1' } } }),
        'InvalidRequestException',
        400,
        /version 1\.5\.9 of package samplePackage.*package ghost|package ghost.*version 1\.5\.9/,
      );
      await rejects(
        update('dev-2', { desired: { samplePackage: { version: '3.0.0' } } }),
        'InvalidRequestException',
        400,
        /version 3\.0\.0 of package samplePackage/,
      );
      for (const bad of [
        { reported: { samplePackage: { version: 1.5 } } },
        { reported: { samplePackage: { version: '' } } },
        { reported: { samplePackage: {} } },
        { reported: { samplePackage: '1.5.2' } },
        { reported: { samplePackage: { version: '1.5.2', attributes: { nested: { a: 'b' } } } } },
        { reported: { samplePackage: { version: '1.5.2', attributes: ['x'] } } },
        { reported: { samplePackage: { version: '1.5.2', extra: true } } },
        { reported: ['samplePackage'] },
      ])
        await rejects(update('dev-2', bad), 'InvalidRequestException', 400, /\$package/);
      const afterwards = await shadow('dev-2');
      assert.equal(afterwards.version, before.version);
      assert.deepEqual(afterwards.state, before.state);
      assert.deepEqual(await members('on-1-5'), ['dev-1']);
    });

    test('other named shadows are not checked against the catalog', async () => {
      await s.data.send(
        new UpdateThingShadowCommand({
          thingName: 'dev-2',
          shadowName: 'packages',
          payload: new TextEncoder().encode(
            JSON.stringify({ state: { reported: { ghost: { version: 1 } } } }),
          ),
        }),
      );
    });
  });
}
