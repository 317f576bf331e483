import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateThingCommand,
  CreateThingTypeCommand,
  DeleteThingCommand,
  DeprecateThingTypeCommand,
  DescribeThingCommand,
  DescribeThingTypeCommand,
  ListThingsCommand,
  ListThingTypesCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

for (const backend of BACKENDS) {
  describe(`things and thing types through @aws-sdk/client-iot (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(backend.name);
    });
    after(() => s?.close());

    test('create, describe, update with attribute merge and expectedVersion, delete', async () => {
      const created = await s.iot.send(
        new CreateThingCommand({
          thingName: 'sensor-1',
          attributePayload: { attributes: { model: 't1000', fw: '1.0' } },
        }),
      );
      assert.equal(created.thingArn, `arn:aws:iot:${s.region}:123456789012:thing/sensor-1`);
      assert.match(created.thingId!, /^[0-9a-f-]{36}$/);
      // Same configuration again is idempotent; a different one conflicts.
      const again = await s.iot.send(
        new CreateThingCommand({
          thingName: 'sensor-1',
          attributePayload: { attributes: { model: 't1000', fw: '1.0' } },
        }),
      );
      assert.equal(again.thingId, created.thingId);
      await rejects(
        s.iot.send(
          new CreateThingCommand({
            thingName: 'sensor-1',
            attributePayload: { attributes: { model: 'other' } },
          }),
        ),
        'ResourceAlreadyExistsException',
        409,
      );
      const d = await s.iot.send(new DescribeThingCommand({ thingName: 'sensor-1' }));
      assert.deepEqual(d.attributes, { model: 't1000', fw: '1.0' });
      assert.equal(d.version, 1);
      assert.equal(d.defaultClientId, 'sensor-1');

      await s.iot.send(
        new UpdateThingCommand({
          thingName: 'sensor-1',
          attributePayload: { attributes: { fw: '', site: 'lab' }, merge: true },
          expectedVersion: 1,
        }),
      );
      const d2 = await s.iot.send(new DescribeThingCommand({ thingName: 'sensor-1' }));
      assert.deepEqual(d2.attributes, { model: 't1000', site: 'lab' });
      assert.equal(d2.version, 2);
      await rejects(
        s.iot.send(
          new UpdateThingCommand({
            thingName: 'sensor-1',
            attributePayload: { attributes: {} },
            expectedVersion: 1,
          }),
        ),
        'VersionConflictException',
        409,
      );
      assert.equal((await s.iot.send(new DescribeThingCommand({ thingName: 'sensor-1' }))).version, 2);

      await rejects(
        s.iot.send(new DeleteThingCommand({ thingName: 'sensor-1', expectedVersion: 7 })),
        'VersionConflictException',
        409,
      );
      await s.iot.send(new DeleteThingCommand({ thingName: 'sensor-1' }));
      await rejects(
        s.iot.send(new DescribeThingCommand({ thingName: 'sensor-1' })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('bad input answers with the model validation message and changes nothing', async () => {
      await rejects(
        s.iot.send(new CreateThingCommand({ thingName: 'bad name' })),
        'InvalidRequestException',
        400,
        /at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
      );
      await rejects(
        s.iot.send(new CreateThingCommand({ thingName: 'x'.repeat(129) })),
        'InvalidRequestException',
        400,
        /length less than or equal to 128/,
      );
      await rejects(
        s.iot.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'missing-type' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new DescribeThingCommand({ thingName: 'typed' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new ListThingsCommand({ maxResults: 0 })),
        'InvalidRequestException',
        400,
        /maxResults/,
      );
      await rejects(
        s.iot.send(new ListThingsCommand({ nextToken: '!!' })),
        'InvalidRequestException',
        400,
        /nextToken/,
      );
    });

    test('list things with filters and pagination', async () => {
      await s.iot.send(
        new CreateThingTypeCommand({
          thingTypeName: 'meter',
          thingTypeProperties: { thingTypeDescription: 'power meter' },
        }),
      );
      for (let i = 0; i < 7; i++) {
        await s.iot.send(
          new CreateThingCommand({
            thingName: `m-${i}`,
            thingTypeName: i % 2 ? 'meter' : undefined,
            attributePayload: { attributes: { batch: i < 4 ? 'a' : 'b' } },
          }),
        );
      }
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await s.iot.send(new ListThingsCommand({ maxResults: 3, nextToken }));
        names.push(...page.things!.map((t) => t.thingName!));
        nextToken = page.nextToken;
      } while (nextToken);
      assert.deepEqual(names, ['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6']);
      const typed = await s.iot.send(new ListThingsCommand({ thingTypeName: 'meter' }));
      assert.deepEqual(
        typed.things!.map((t) => t.thingName),
        ['m-1', 'm-3', 'm-5'],
      );
      const batchB = await s.iot.send(new ListThingsCommand({ attributeName: 'batch', attributeValue: 'b' }));
      assert.deepEqual(
        batchB.things!.map((t) => t.thingName),
        ['m-4', 'm-5', 'm-6'],
      );
      const prefix = await s.iot.send(
        new ListThingsCommand({ attributeName: 'batch', attributeValue: 'a', usePrefixAttributeValue: true }),
      );
      assert.equal(prefix.things!.length, 4);
    });

    test('thing types: describe, list, deprecate, delete rules', async () => {
      const t = await s.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'meter' }));
      assert.equal(t.thingTypeProperties?.thingTypeDescription, 'power meter');
      assert.equal(t.thingTypeMetadata?.deprecated, false);
      assert.ok(t.thingTypeMetadata?.creationDate instanceof Date);
      const list = await s.iot.send(new ListThingTypesCommand({}));
      assert.deepEqual(
        list.thingTypes!.map((x) => x.thingTypeName),
        ['meter'],
      );
      await s.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'meter' }));
      assert.equal(
        (await s.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'meter' }))).thingTypeMetadata
          ?.deprecated,
        true,
      );
      await rejects(
        s.iot.send(new CreateThingCommand({ thingName: 'late', thingTypeName: 'meter' })),
        'InvalidRequestException',
        400,
      );
    });
  });
}
