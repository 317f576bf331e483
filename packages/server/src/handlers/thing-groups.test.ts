import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddThingToThingGroupCommand,
  CreateDynamicThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteDynamicThingGroupCommand,
  DeleteThingGroupCommand,
  DescribeThingGroupCommand,
  ListTagsForResourceCommand,
  ListThingGroupsCommand,
  type ListThingGroupsCommandInput,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateDynamicThingGroupCommand,
  UpdateThingCommand,
  UpdateThingGroupCommand,
  UpdateThingGroupsForThingCommand,
} from '@aws-sdk/client-iot';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

for (const backend of BACKENDS) {
  describe(`thing groups, dynamic groups and tags through @aws-sdk/client-iot (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    const arn = (resource: string) => `arn:aws:iot:${s.region}:123456789012:${resource}`;
    const members = async (group: string, recursive?: boolean) =>
      (await s.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group, recursive }))).things ??
      [];
    before(async () => {
      s = await startTestServer(backend.name);
    });
    after(() => s?.close());

    test('hierarchy: create, describe with rootToParentThingGroups, list, recursive listings', async () => {
      const root = await s.iot.send(
        new CreateThingGroupCommand({
          thingGroupName: 'eu',
          thingGroupProperties: {
            thingGroupDescription: 'Europe',
            attributePayload: { attributes: { tier: '1' } },
          },
          tags: [{ Key: 'team', Value: 'ops' }],
        }),
      );
      assert.equal(root.thingGroupArn, arn('thinggroup/eu'));
      assert.match(root.thingGroupId!, /^[0-9a-f-]{36}$/);
      await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'eu-west', parentGroupName: 'eu' }));
      await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'dublin', parentGroupName: 'eu-west' }));
      await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'us' }));
      await rejects(
        s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'orphan', parentGroupName: 'nope' })),
        'ResourceNotFoundException',
        404,
      );

      const d = await s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'dublin' }));
      assert.equal(d.thingGroupArn, arn('thinggroup/dublin'));
      assert.equal(d.version, 1);
      assert.equal(d.thingGroupMetadata?.parentGroupName, 'eu-west');
      assert.deepEqual(d.thingGroupMetadata?.rootToParentThingGroups, [
        { groupName: 'eu', groupArn: arn('thinggroup/eu') },
        { groupName: 'eu-west', groupArn: arn('thinggroup/eu-west') },
      ]);
      assert.ok(d.thingGroupMetadata?.creationDate instanceof Date);
      assert.equal(d.queryString, undefined);
      const r = await s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'eu' }));
      assert.equal(r.thingGroupProperties?.thingGroupDescription, 'Europe');
      assert.deepEqual(r.thingGroupProperties?.attributePayload?.attributes, { tier: '1' });
      assert.equal(r.thingGroupMetadata?.rootToParentThingGroups, undefined);
      await rejects(
        s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'nope' })),
        'ResourceNotFoundException',
        404,
      );

      const names = async (input: ListThingGroupsCommandInput) =>
        ((await s.iot.send(new ListThingGroupsCommand(input))).thingGroups ?? []).map((g) => g.groupName);
      assert.deepEqual(await names({}), ['dublin', 'eu', 'eu-west', 'us']);
      assert.deepEqual(await names({ parentGroup: 'eu' }), ['eu-west']);
      assert.deepEqual(await names({ parentGroup: 'eu', recursive: true }), ['dublin', 'eu-west']);
      assert.deepEqual(await names({ namePrefixFilter: 'eu' }), ['eu', 'eu-west']);
      const first = await s.iot.send(new ListThingGroupsCommand({ maxResults: 3 }));
      assert.equal(first.thingGroups?.length, 3);
      assert.deepEqual(first.thingGroups?.[0], { groupName: 'dublin', groupArn: arn('thinggroup/dublin') });
      const second = await s.iot.send(
        new ListThingGroupsCommand({ maxResults: 3, nextToken: first.nextToken }),
      );
      assert.deepEqual(
        second.thingGroups?.map((g) => g.groupName),
        ['us'],
      );
      assert.equal(second.nextToken, undefined);

      // Members by name and by ARN; recursive listing includes descendants.
      await s.iot.send(new CreateThingCommand({ thingName: 'pump-1' }));
      await s.iot.send(new CreateThingCommand({ thingName: 'pump-2' }));
      await s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'dublin', thingName: 'pump-1' }));
      await s.iot.send(
        new AddThingToThingGroupCommand({
          thingGroupArn: arn('thinggroup/eu'),
          thingArn: arn('thing/pump-2'),
        }),
      );
      assert.deepEqual(await members('eu'), ['pump-2']);
      assert.deepEqual(await members('eu', true), ['pump-1', 'pump-2']);
      const groups = await s.iot.send(new ListThingGroupsForThingCommand({ thingName: 'pump-1' }));
      assert.deepEqual(groups.thingGroups, [{ groupName: 'dublin', groupArn: arn('thinggroup/dublin') }]);
      await s.iot.send(
        new UpdateThingGroupsForThingCommand({
          thingName: 'pump-1',
          thingGroupsToAdd: ['us'],
          thingGroupsToRemove: ['dublin'],
        }),
      );
      assert.deepEqual(await members('dublin'), []);
      assert.deepEqual(await members('us'), ['pump-1']);
      await s.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'us', thingName: 'pump-1' }));
      assert.deepEqual(await members('us'), []);
      await rejects(
        s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'us', thingName: 'ghost' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(
          new AddThingToThingGroupCommand({
            thingGroupArn: 'arn:aws:iot:x:thinggroup/us',
            thingName: 'pump-1',
          }),
        ),
        'InvalidRequestException',
        400,
      );
    });

    test('update and delete with expectedVersion; a group with children cannot be deleted', async () => {
      await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'v-parent' }));
      await s.iot.send(
        new CreateThingGroupCommand({ thingGroupName: 'v-child', parentGroupName: 'v-parent' }),
      );
      const u = await s.iot.send(
        new UpdateThingGroupCommand({
          thingGroupName: 'v-parent',
          thingGroupProperties: {
            thingGroupDescription: 'new',
            attributePayload: { attributes: { a: '1' } },
          },
          expectedVersion: 1,
        }),
      );
      assert.equal(u.version, 2);
      await rejects(
        s.iot.send(
          new UpdateThingGroupCommand({
            thingGroupName: 'v-parent',
            thingGroupProperties: {},
            expectedVersion: 1,
          }),
        ),
        'VersionConflictException',
        409,
      );
      const d = await s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'v-parent' }));
      assert.equal(d.thingGroupProperties?.thingGroupDescription, 'new');
      assert.equal(d.version, 2);
      await rejects(
        s.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'v-parent' })),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'v-child', expectedVersion: 7 })),
        'VersionConflictException',
        409,
      );
      await s.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'v-child', expectedVersion: 1 }));
      await s.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'v-parent' }));
      // Deleting an absent group succeeds, as on AWS.
      await s.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'v-parent' }));
      await rejects(
        s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'v-parent' })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('dynamic groups follow attribute changes, static membership and query updates', async () => {
      await s.iot.send(
        new CreateThingCommand({
          thingName: 'dev-a',
          attributePayload: { attributes: { fw: '1.0', site: 'x' } },
        }),
      );
      await s.iot.send(
        new CreateThingCommand({ thingName: 'dev-b', attributePayload: { attributes: { fw: '2.0' } } }),
      );
      await rejects(
        s.iot.send(
          new CreateDynamicThingGroupCommand({ thingGroupName: 'bad', queryString: 'attributes.fw:(' }),
        ),
        'InvalidQueryException',
        400,
      );
      const created = await s.iot.send(
        new CreateDynamicThingGroupCommand({
          thingGroupName: 'old-fw',
          queryString: 'attributes.fw:1*',
          tags: [{ Key: 'k', Value: 'v' }],
        }),
      );
      assert.equal(created.thingGroupArn, arn('thinggroup/old-fw'));
      assert.equal(created.indexName, 'AWS_Things');
      assert.equal(created.queryVersion, '2017-09-30');
      assert.equal(created.queryString, 'attributes.fw:1*');
      const d = await s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'old-fw' }));
      assert.equal(d.indexName, 'AWS_Things');
      assert.equal(d.queryString, 'attributes.fw:1*');
      assert.equal(d.queryVersion, '2017-09-30');
      assert.equal(d.status, 'ACTIVE');
      // Existing things are evaluated at creation.
      assert.deepEqual(await members('old-fw'), ['dev-a']);

      // Registry changes move things in and out (needs refreshThing wired after CreateThing/UpdateThing).
      await s.iot.send(
        new UpdateThingCommand({ thingName: 'dev-b', attributePayload: { attributes: { fw: '1.5' } } }),
      );
      await s.iot.send(
        new CreateThingCommand({ thingName: 'dev-c', attributePayload: { attributes: { fw: '1.9' } } }),
      );
      assert.deepEqual(await members('old-fw'), ['dev-a', 'dev-b', 'dev-c']);
      await s.iot.send(
        new UpdateThingCommand({ thingName: 'dev-a', attributePayload: { attributes: { fw: '3.0' } } }),
      );
      assert.deepEqual(await members('old-fw'), ['dev-b', 'dev-c']);
      const forThing = await s.iot.send(new ListThingGroupsForThingCommand({ thingName: 'dev-b' }));
      assert.deepEqual(
        forThing.thingGroups?.map((g) => g.groupName),
        ['old-fw'],
      );

      // Static membership changes are seen by queries on thingGroupNames.
      await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'pilot' }));
      await s.iot.send(
        new CreateDynamicThingGroupCommand({
          thingGroupName: 'in-pilot',
          queryString: 'thingGroupNames:pilot',
        }),
      );
      assert.deepEqual(await members('in-pilot'), []);
      await s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'pilot', thingName: 'dev-a' }));
      assert.deepEqual(await members('in-pilot'), ['dev-a']);
      await s.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'pilot', thingName: 'dev-a' }));
      assert.deepEqual(await members('in-pilot'), []);

      // Things cannot be added to or removed from dynamic groups by hand; they are not part of hierarchies.
      await rejects(
        s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'old-fw', thingName: 'dev-a' })),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(
          new UpdateThingGroupsForThingCommand({ thingName: 'dev-a', thingGroupsToAdd: ['old-fw'] }),
        ),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'under-dyn', parentGroupName: 'old-fw' })),
        'InvalidRequestException',
        400,
      );

      // A new query recomputes the membership.
      const u = await s.iot.send(
        new UpdateDynamicThingGroupCommand({
          thingGroupName: 'old-fw',
          thingGroupProperties: { thingGroupDescription: 'fw >= 2' },
          queryString: 'attributes.fw>=2',
          expectedVersion: 1,
        }),
      );
      assert.equal(u.version, 2);
      assert.deepEqual(await members('old-fw'), ['dev-a']);
      await rejects(
        s.iot.send(
          new UpdateDynamicThingGroupCommand({
            thingGroupName: 'old-fw',
            thingGroupProperties: {},
            expectedVersion: 1,
          }),
        ),
        'VersionConflictException',
        409,
      );
      await rejects(
        s.iot.send(
          new UpdateDynamicThingGroupCommand({
            thingGroupName: 'pilot',
            thingGroupProperties: {},
            queryString: 'x:y',
          }),
        ),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(
          new UpdateDynamicThingGroupCommand({
            thingGroupName: 'old-fw',
            thingGroupProperties: {},
            queryString: 'a:(',
          }),
        ),
        'InvalidQueryException',
        400,
      );

      // Deleting the dynamic group removes its memberships and stops tracking.
      await s.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'old-fw' }));
      await rejects(
        s.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'old-fw' })),
        'ResourceNotFoundException',
        404,
      );
      await s.iot.send(
        new UpdateThingCommand({ thingName: 'dev-b', attributePayload: { attributes: { fw: '2.5' } } }),
      );
      const after = await s.iot.send(new ListThingGroupsForThingCommand({ thingName: 'dev-a' }));
      assert.deepEqual(after.thingGroups, []);
    });

    test('tags round trip by ARN for things, thing groups and thing types', async () => {
      await s.iot.send(
        new CreateThingGroupCommand({ thingGroupName: 'tagged', tags: [{ Key: 'env', Value: 'prod' }] }),
      );
      await s.iot.send(new CreateThingCommand({ thingName: 'tagged-thing' }));
      await s.iot.send(
        new CreateThingTypeCommand({ thingTypeName: 'tagged-type', tags: [{ Key: 'a', Value: '1' }] }),
      );
      const groupArn = arn('thinggroup/tagged');
      const list = async (resourceArn: string) =>
        (await s.iot.send(new ListTagsForResourceCommand({ resourceArn }))).tags;
      assert.deepEqual(await list(groupArn), [{ Key: 'env', Value: 'prod' }]);
      await s.iot.send(
        new TagResourceCommand({
          resourceArn: groupArn,
          tags: [
            { Key: 'env', Value: 'dev' },
            { Key: 'owner', Value: 'me' },
          ],
        }),
      );
      assert.deepEqual(await list(groupArn), [
        { Key: 'env', Value: 'dev' },
        { Key: 'owner', Value: 'me' },
      ]);
      await s.iot.send(new UntagResourceCommand({ resourceArn: groupArn, tagKeys: ['env'] }));
      assert.deepEqual(await list(groupArn), [{ Key: 'owner', Value: 'me' }]);
      await s.iot.send(
        new TagResourceCommand({ resourceArn: arn('thing/tagged-thing'), tags: [{ Key: 'x', Value: '' }] }),
      );
      assert.deepEqual(await list(arn('thing/tagged-thing')), [{ Key: 'x', Value: '' }]);
      assert.deepEqual(await list(arn('thingtype/tagged-type')), [{ Key: 'a', Value: '1' }]);

      // Paging: 60 tags come back in two pages.
      const many = Array.from({ length: 60 }, (_, i) => ({
        Key: `k${String(i).padStart(2, '0')}`,
        Value: String(i),
      }));
      await s.iot.send(new TagResourceCommand({ resourceArn: arn('thing/tagged-thing'), tags: many }));
      const p1 = await s.iot.send(new ListTagsForResourceCommand({ resourceArn: arn('thing/tagged-thing') }));
      assert.ok(p1.nextToken);
      const p2 = await s.iot.send(
        new ListTagsForResourceCommand({ resourceArn: arn('thing/tagged-thing'), nextToken: p1.nextToken }),
      );
      assert.equal(p2.nextToken, undefined);
      assert.equal((p1.tags?.length ?? 0) + (p2.tags?.length ?? 0), 61);

      await rejects(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: 'not-an-arn' })),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(new ListTagsForResourceCommand({ resourceArn: arn('policy/p') })),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(
          new TagResourceCommand({
            resourceArn: arn('thinggroup/missing'),
            tags: [{ Key: 'a', Value: 'b' }],
          }),
        ),
        'ResourceNotFoundException',
        404,
      );
    });
  });
}
