/**
 * One contract for the registry store, run against every SqlDatabase implementation
 * (see registry-store.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isOtterError, parseFleetQuery, type ShadowState } from '@otter/core';
import { migrate } from './migrations.js';
import { RegistryStore } from './registry-store.js';
import type { SqlDatabase } from './sql/sql-database.js';
import { UniqueViolation } from './sql/sql-database.js';

const T0 = 1_700_000_000_000;

const rejectsWith = (type: string) => (error: unknown) => {
  assert.ok(isOtterError(error), `expected ${type}, got ${String(error)}`);
  assert.equal(error.type, type);
  return true;
};

const shadow = (version: number, reported: ShadowState['state']['reported']): ShadowState => ({
  state: reported === undefined ? {} : { reported },
  metadata: {},
  version,
  timestamp: 1_700_000_000,
});

export interface ContractOptions {
  /** Skip every test with this reason (e.g. no database configured). */
  skip?: string;
}

export function runRegistryStoreContract(
  name: string,
  makeDb: () => Promise<SqlDatabase>,
  options: ContractOptions = {},
): void {
  describe(`registry store contract: ${name}`, () => {
    if (options.skip !== undefined) {
      test('registry store contract', { skip: options.skip }, () => {});
      return;
    }
    let db: SqlDatabase;
    let store: RegistryStore;
    before(async () => {
      db = await makeDb();
      store = new RegistryStore(db);
    });
    after(async () => {
      await db.close();
    });

    test('things: create is idempotent, conflicts on different config, get, update, delete', async () => {
      const created = await store.things.create({ thingName: 'crud-1', attributes: { a: '1' } }, T0);
      assert.equal(created.version, 1);
      assert.deepEqual(created.attributes, { a: '1' });
      const again = await store.things.create({ thingName: 'crud-1', attributes: { a: '1' } }, T0 + 1);
      assert.equal(again.thingId, created.thingId);
      await assert.rejects(
        store.things.create({ thingName: 'crud-1', attributes: { a: '2' } }, T0),
        rejectsWith('ResourceAlreadyExistsException'),
      );
      const updated = await store.things.update(
        'crud-1',
        { attributePayload: { attributes: { a: '', b: '2' }, merge: true }, expectedVersion: 1 },
        T0 + 2,
      );
      assert.deepEqual(updated.attributes, { b: '2' });
      assert.equal(updated.version, 2);
      const replaced = await store.things.update(
        'crud-1',
        { attributePayload: { attributes: { c: '3' } } },
        T0 + 3,
      );
      assert.deepEqual(replaced.attributes, { c: '3' });
      await assert.rejects(
        store.things.update('crud-1', { expectedVersion: 1 }, T0),
        rejectsWith('VersionConflictException'),
      );
      await assert.rejects(store.things.delete('crud-1', 1), rejectsWith('VersionConflictException'));
      await store.shadows.put('crud-1', '', shadow(1, { x: 1 }), null, T0);
      await store.tags.tag('thing', 'crud-1', { k: 'v' });
      assert.equal(await store.things.delete('crud-1', 3), true);
      assert.equal(await store.things.get('crud-1'), undefined);
      assert.equal(await store.shadows.get('crud-1', ''), undefined);
      assert.deepEqual(await store.tags.list('thing', 'crud-1'), {});
      assert.equal(await store.things.delete('crud-1'), false);
      await assert.rejects(store.things.describe('crud-1'), rejectsWith('ResourceNotFoundException'));
    });

    test('things: list paginates by name and filters', async () => {
      for (const n of ['p-3', 'p-1', 'p-2', 'p-5', 'p-4'])
        await store.things.create(
          { thingName: n, attributes: { parity: Number(n.slice(2)) % 2 ? 'odd' : 'even' } },
          T0,
        );
      const seen: string[] = [];
      let afterName: string | undefined;
      do {
        const page = await store.things.list({ after: afterName, limit: 2 });
        seen.push(...page.items.map((t) => t.thingName).filter((n) => n.startsWith('p-')));
        afterName = page.nextToken;
      } while (afterName !== undefined);
      assert.deepEqual(seen, ['p-1', 'p-2', 'p-3', 'p-4', 'p-5']);
      const odd = await store.things.list({ attributeName: 'parity', attributeValue: 'odd', limit: 10 });
      assert.deepEqual(
        odd.items.map((t) => t.thingName),
        ['p-1', 'p-3', 'p-5'],
      );
    });

    test('thing types: create, deprecate, delete rules', async () => {
      await store.thingTypes.create({ thingTypeName: 'sensor', searchableAttributes: ['a'] }, T0);
      await store.things.create({ thingName: 'typed-1', thingTypeName: 'sensor' }, T0);
      await assert.rejects(store.thingTypes.delete('sensor', T0), rejectsWith('InvalidRequestException'));
      await store.thingTypes.deprecate('sensor', false, T0);
      await assert.rejects(
        store.things.create({ thingName: 'typed-2', thingTypeName: 'sensor' }, T0),
        rejectsWith('InvalidRequestException'),
      );
      await assert.rejects(
        store.thingTypes.delete('sensor', T0 + 60_000),
        rejectsWith('InvalidRequestException'),
      );
      await assert.rejects(
        store.thingTypes.delete('sensor', T0 + 600_000),
        rejectsWith('InvalidRequestException'),
      );
      await store.things.update('typed-1', { removeThingType: true }, T0);
      await store.thingTypes.delete('sensor', T0 + 600_000);
      assert.equal(await store.thingTypes.get('sensor'), undefined);
    });

    test('thing groups: hierarchy, membership, delete rules', async () => {
      await store.thingGroups.create({ thingGroupName: 'g-root' }, T0);
      await store.thingGroups.create({ thingGroupName: 'g-child', parentGroupName: 'g-root' }, T0);
      await store.thingGroups.create({ thingGroupName: 'g-leaf', parentGroupName: 'g-child' }, T0);
      await assert.rejects(
        store.thingGroups.create({ thingGroupName: 'g-leaf', description: 'other' }, T0),
        rejectsWith('ResourceAlreadyExistsException'),
      );
      await store.things.create({ thingName: 'member-1' }, T0);
      await store.thingGroups.addThing('g-leaf', 'member-1');
      await store.thingGroups.addThing('g-leaf', 'member-1');
      const direct = await store.thingGroups.listThings('g-root', { limit: 10 });
      assert.deepEqual(direct.items, []);
      const recursive = await store.thingGroups.listThings('g-root', { limit: 10, recursive: true });
      assert.deepEqual(recursive.items, ['member-1']);
      const children = await store.thingGroups.list({ parentGroup: 'g-root', recursive: true, limit: 10 });
      assert.deepEqual(
        children.items.map((g) => g.thingGroupName),
        ['g-child', 'g-leaf'],
      );
      const prefixed = await store.thingGroups.list({ namePrefix: 'g-c', limit: 10 });
      assert.deepEqual(
        prefixed.items.map((g) => g.thingGroupName),
        ['g-child'],
      );
      assert.deepEqual(
        (await store.thingGroups.ancestors('g-leaf')).map((g) => g.thingGroupName),
        ['g-root', 'g-child'],
      );
      assert.deepEqual((await store.thingGroups.listGroupsForThing('member-1', { limit: 10 })).items, [
        'g-leaf',
      ]);
      await assert.rejects(store.thingGroups.delete('g-child'), rejectsWith('InvalidRequestException'));
      const g = await store.thingGroups.update('g-leaf', { description: 'd', expectedVersion: 1 });
      assert.equal(g.version, 2);
      await assert.rejects(
        store.thingGroups.update('g-leaf', { expectedVersion: 1 }),
        rejectsWith('VersionConflictException'),
      );
      assert.equal(await store.thingGroups.delete('g-leaf'), true);
      assert.deepEqual((await store.thingGroups.listGroupsForThing('member-1', { limit: 10 })).items, []);
    });

    test('shadows: optimistic concurrency, named listing, delete', async () => {
      await store.things.create({ thingName: 'shadowed' }, T0);
      await store.shadows.put('shadowed', '', shadow(1, { t: 1 }), null, T0);
      await assert.rejects(
        store.shadows.put('shadowed', '', shadow(1, { t: 2 }), null, T0),
        rejectsWith('VersionConflictException'),
      );
      await store.shadows.put('shadowed', '', shadow(2, { t: 2 }), 1, T0);
      await assert.rejects(
        store.shadows.put('shadowed', '', shadow(3, { t: 3 }), 1, T0),
        rejectsWith('VersionConflictException'),
      );
      assert.equal((await store.shadows.get('shadowed', ''))?.version, 2);
      await store.shadows.put('shadowed', 'b', shadow(1, {}), null, T0);
      await store.shadows.put('shadowed', 'a', shadow(1, {}), null, T0);
      assert.deepEqual((await store.shadows.listNamed('shadowed', { limit: 10 })).items, ['a', 'b']);
      assert.equal((await store.shadows.delete('shadowed', 'a', undefined, T0))?.version, 1);
      assert.equal(await store.shadows.delete('shadowed', 'a', undefined, T0), undefined);
      // The deleted version is remembered for 48 hours, and forgotten once the shadow is re-created.
      assert.equal(await store.shadows.deletedVersion('shadowed', 'a', T0 + 1000), 1);
      assert.equal(await store.shadows.deletedVersion('shadowed', 'a', T0 + 48 * 3600 * 1000), undefined);
      await store.shadows.put('shadowed', 'a', shadow(2, {}), null, T0);
      assert.equal(await store.shadows.deletedVersion('shadowed', 'a', T0 + 1000), undefined);
      await assert.rejects(
        store.shadows.put('no-such-thing', '', shadow(1, {}), null, T0),
        rejectsWith('ResourceNotFoundException'),
      );
    });

    test('tags and settings', async () => {
      await store.tags.tag('thingGroup', 'x', { a: '1', b: '2' });
      await store.tags.tag('thingGroup', 'x', { a: '3' });
      await store.tags.untag('thingGroup', 'x', ['b']);
      assert.deepEqual(await store.tags.list('thingGroup', 'x'), { a: '3' });
      assert.equal(await store.settings.get('indexing'), undefined);
      await store.settings.put('indexing', { mode: 'REGISTRY' });
      await store.settings.put('indexing', { mode: 'REGISTRY_AND_SHADOW' });
      assert.deepEqual(await store.settings.get('indexing'), { mode: 'REGISTRY_AND_SHADOW' });
    });

    test('transactions roll back on error; unique violations are UniqueViolation', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['rollback-me', '1']);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await db.get('SELECT value FROM settings WHERE key = ?', ['rollback-me']), undefined);
      await db.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['dup', '1']);
      await assert.rejects(
        db.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['dup', '2']),
        UniqueViolation,
      );
      // A thing id taken by another thing: the whole create is rolled back.
      await store.things.create({ thingName: 'id-owner', thingId: 'shared-id' }, T0);
      await assert.rejects(
        store.things.create({ thingName: 'id-thief', thingId: 'shared-id', attributes: { q: '1' } }, T0),
        rejectsWith('ResourceAlreadyExistsException'),
      );
      assert.equal(await store.things.get('id-thief'), undefined);
      const orphan = await db.get('SELECT 1 AS one FROM thing_index WHERE thing_name = ?', ['id-thief']);
      assert.equal(orphan, undefined);
    });

    test('reindex + searchThings', async () => {
      await store.things.create({ thingName: 's-1', attributes: { x: 'abc' } }, T0);
      await store.things.create({ thingName: 's-2', attributes: { x: 'axe' } }, T0);
      await store.things.create({ thingName: 's-3', attributes: { x: 'bad' } }, T0);
      const pkg = (v: string): ShadowState => ({
        state: { reported: { samplePackage: { version: v } } },
        metadata: {},
        version: 1,
        timestamp: 0,
      });
      await store.shadows.put('s-1', '$package', pkg('2.1.5'), null, T0);
      await store.shadows.put('s-3', '$package', pkg('2.1.4'), null, T0);
      await store.thingGroups.create({ thingGroupName: 'fleet' }, T0);
      await store.thingGroups.addThing('fleet', 's-2');
      await store.things.setConnectivity('s-3', { connected: true, timestamp: T0 });
      const names = async (q: string, limit = 50) =>
        (await store.searchThings(parseFleetQuery(q), { limit })).items.map((t) => t.thingName);
      assert.deepEqual(await names('shadow.name.$package.reported.samplePackage.version:2.1.5'), ['s-1']);
      assert.deepEqual(await names('attributes.x:a*'), ['s-1', 's-2']);
      assert.deepEqual(await names('thingGroupNames:fleet'), ['s-2']);
      assert.deepEqual(await names('connectivity.connected:true'), ['s-3']);
      assert.deepEqual(await names('thingName:s-* AND NOT attributes.x:a*'), ['s-3']);
      const first = await store.searchThings(parseFleetQuery('attributes.x:*'), { limit: 2 });
      assert.deepEqual(
        first.items.map((t) => t.thingName),
        ['s-1', 's-2'],
      );
      const second = await store.searchThings(parseFleetQuery('attributes.x:*'), {
        after: first.nextToken,
        limit: 2,
      });
      assert.deepEqual(
        second.items.map((t) => t.thingName),
        ['s-3'],
      );
      await store.thingGroups.removeThing('fleet', 's-2');
      assert.deepEqual(await names('thingGroupNames:fleet'), []);
      await store.things.update('s-2', { attributePayload: { attributes: { x: 'zzz' } } }, T0);
      assert.deepEqual(await names('attributes.x:a*'), ['s-1']);
    });

    test('reads outside a transaction never see its uncommitted rows', async () => {
      let inserted = (): void => {};
      const written = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const failing = db.transaction(async (tx) => {
        await tx.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['uncommitted', '1']);
        inserted();
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('abort');
      });
      // Handled from the start: on a slow machine the read below can outlast the transaction.
      // (SQLite's adapter queues the read behind the transaction; PostgreSQL reads concurrently.)
      const rejected = assert.rejects(failing, /abort/);
      await written;
      assert.equal(await db.get('SELECT value FROM settings WHERE key = ?', ['uncommitted']), undefined);
      await rejected;
    });

    test('reads see every write that finished before them, also within one event-loop turn', async () => {
      // SQLite shares one read transaction among the reads of a turn: a write outside a transaction
      // and a transaction must end it, or the reads after them would see the old rows.
      const value = async (key: string) =>
        (await db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]))?.value;
      assert.equal(await value('turn'), undefined);
      await db.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['turn', '1']);
      assert.equal(await value('turn'), '1');
      await db.transaction((tx) => tx.run('UPDATE settings SET value = ? WHERE key = ?', ['2', 'turn']));
      assert.equal(await value('turn'), '2');
      await assert.rejects(db.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['turn', '3']));
      assert.equal(await value('turn'), '2');
      await db.run('DELETE FROM settings WHERE key = ?', ['turn']);
      assert.equal(await value('turn'), undefined);
    });

    test('migrations are idempotent, also when run concurrently', async () => {
      assert.deepEqual(await Promise.all([migrate(db), migrate(db)]), [[], []]);
    });

    test('concurrent transactions do not interleave', async () => {
      await db.run('INSERT INTO settings (key, value) VALUES (?, ?)', ['counter', '0']);
      const increment = () =>
        db.transaction(async (tx) => {
          const row = await tx.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [
            'counter',
          ]);
          await new Promise((resolve) => setTimeout(resolve, 1));
          await tx.run('UPDATE settings SET value = ? WHERE key = ?', [
            String(Number(row?.value) + 1),
            'counter',
          ]);
        });
      const attempts = Array.from({ length: 20 }, increment);
      // Only SQLite promises serialized transactions; on PostgreSQL lost updates are expected
      // under READ COMMITTED, so there we only check that everything committed.
      await Promise.all(attempts);
      const row = await db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', ['counter']);
      if (db.kind === 'sqlite') assert.equal(row?.value, '20');
      else assert.ok(Number(row?.value) >= 1);
    });
  });
}
