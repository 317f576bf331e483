import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddThingToThingGroupCommand,
  CreatePackageCommand,
  CreatePackageVersionCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  GetIndexingConfigurationCommand,
  SearchIndexCommand,
  UpdateIndexingConfigurationCommand,
} from '@aws-sdk/client-iot';
import { UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

for (const backend of BACKENDS) {
  describe(`fleet indexing through @aws-sdk/client-iot (${backend.name})`, { skip: backend.skip }, () => {
    let s: TestServer;
    const search = async (queryString: string, extra: { maxResults?: number; nextToken?: string } = {}) =>
      s.iot.send(new SearchIndexCommand({ queryString, ...extra }));
    const names = async (queryString: string) =>
      ((await search(queryString)).things ?? []).map((t) => t.thingName);
    before(async () => {
      s = await startTestServer(backend.name);
      for (const [name, attributes] of [
        ['alpha', { x: 'apple', n: '5' }],
        ['beta', { x: 'avocado', n: '15' }],
        ['gamma', { x: 'banana', n: '25' }],
      ] as const)
        await s.iot.send(new CreateThingCommand({ thingName: name, attributePayload: { attributes } }));
      await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
      await s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'fleet', thingName: 'gamma' }));
    });
    after(() => s?.close());

    test('default configuration', async () => {
      const c = await s.iot.send(new GetIndexingConfigurationCommand({}));
      assert.equal(c.thingIndexingConfiguration?.thingIndexingMode, 'REGISTRY_AND_SHADOW');
      assert.equal(c.thingIndexingConfiguration?.thingConnectivityIndexingMode, 'STATUS');
      assert.equal(c.thingIndexingConfiguration?.namedShadowIndexingMode, 'ON');
      assert.deepEqual(c.thingIndexingConfiguration?.filter?.namedShadowNames, ['$package']);
      assert.equal(c.thingGroupIndexingConfiguration?.thingGroupIndexingMode, 'OFF');
    });

    test('wildcards, ranges, groups, paging and the result shape', async () => {
      assert.deepEqual(await names('attributes.x:a*'), ['alpha', 'beta']);
      assert.deepEqual(await names('attributes.n:[10 TO 30]'), ['beta', 'gamma']);
      assert.deepEqual(await names('attributes.n>6 AND NOT attributes.x:banana'), ['beta']);
      assert.deepEqual(await names('thingGroupNames:fleet'), ['gamma']);
      assert.deepEqual(await names('thingName:nothing'), []);
      const r = await search('thingName:gamma');
      assert.deepEqual(r.thingGroups, []);
      const g = r.things?.[0];
      assert.equal(g?.thingName, 'gamma');
      assert.match(g?.thingId ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(g?.thingGroupNames, ['fleet']);
      assert.deepEqual(g?.attributes, { x: 'banana', n: '25' });
      assert.equal(g?.connectivity?.connected, false);
      const p1 = await search('thingName:*', { maxResults: 2 });
      assert.deepEqual(
        p1.things?.map((t) => t.thingName),
        ['alpha', 'beta'],
      );
      const p2 = await search('thingName:*', { maxResults: 2, nextToken: p1.nextToken! });
      assert.deepEqual(
        p2.things?.map((t) => t.thingName),
        ['gamma'],
      );
      assert.equal(p2.nextToken, undefined);
    });

    test('errors: malformed query, unknown index', async () => {
      await rejects(search('attributes.x:(a'), 'InvalidQueryException', 400);
      await rejects(
        s.iot.send(new SearchIndexCommand({ indexName: 'Nope', queryString: 'thingName:a' })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('named shadow $package is searchable and returned in shadow', async () => {
      await s.iot.send(new CreatePackageCommand({ packageName: 'samplePackage' }));
      await s.iot.send(
        new CreatePackageVersionCommand({ packageName: 'samplePackage', versionName: '2.1.5' }),
      );
      await s.data.send(
        new UpdateThingShadowCommand({
          thingName: 'alpha',
          shadowName: '$package',
          payload: Buffer.from(
            JSON.stringify({ state: { reported: { samplePackage: { version: '2.1.5' } } } }),
          ),
        }),
      );
      assert.deepEqual(await names('shadow.name.$package.reported.samplePackage.version:2.1.5'), ['alpha']);
      const [thing] = (await search('thingName:alpha')).things ?? [];
      const shadow = JSON.parse(thing?.shadow ?? '{}');
      assert.deepEqual(shadow.name.$package.reported, { samplePackage: { version: '2.1.5' } });
    });

    test('indexing modes: REGISTRY rejects shadow fields, OFF makes the index not ready', async () => {
      await rejects(
        s.iot.send(
          new UpdateIndexingConfigurationCommand({
            thingIndexingConfiguration: { thingIndexingMode: 'REGISTRY', namedShadowIndexingMode: 'ON' },
          }),
        ),
        'InvalidRequestException',
        400,
      );
      await s.iot.send(
        new UpdateIndexingConfigurationCommand({
          thingIndexingConfiguration: {
            thingIndexingMode: 'REGISTRY',
            thingConnectivityIndexingMode: 'STATUS',
          },
        }),
      );
      const c = await s.iot.send(new GetIndexingConfigurationCommand({}));
      assert.equal(c.thingIndexingConfiguration?.thingIndexingMode, 'REGISTRY');
      assert.equal(c.thingGroupIndexingConfiguration?.thingGroupIndexingMode, 'OFF');
      await rejects(search('shadow.reported.temp>3'), 'InvalidQueryException', 400, /shadow\.reported\.temp/);
      assert.deepEqual(await names('attributes.x:apple'), ['alpha']);
      assert.equal((await search('thingName:alpha')).things?.[0]?.shadow, undefined);
      await s.iot.send(
        new UpdateIndexingConfigurationCommand({ thingIndexingConfiguration: { thingIndexingMode: 'OFF' } }),
      );
      await rejects(
        search('thingName:alpha'),
        'IndexNotReadyException',
        400,
        /Index AWS_Things is not ready/,
      );
      await s.iot.send(
        new UpdateIndexingConfigurationCommand({
          thingIndexingConfiguration: {
            thingIndexingMode: 'REGISTRY_AND_SHADOW',
            thingConnectivityIndexingMode: 'STATUS',
            namedShadowIndexingMode: 'ON',
            filter: { namedShadowNames: ['$package'] },
          },
        }),
      );
      assert.deepEqual(await names('thingName:alpha'), ['alpha']);
    });
  });
}
