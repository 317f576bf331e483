import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DescribeThingCommand,
} from '@aws-sdk/client-iot';
import { UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import pg from 'pg';
import { startTestServer, TEST_DATABASE_URL, type TestServer } from '../testing/test-server.js';

/**
 * DeleteThing refuses a thing with principals; AttachThingPrincipal refuses a missing thing. On
 * PostgreSQL (READ COMMITTED) both lock the thing row first, so whichever runs second sees the
 * other's outcome: never an attachment to a deleted thing. The interleavings are forced with an
 * outside transaction holding a lock the first call needs after its checks.
 */
describe('AttachThingPrincipal vs DeleteThing (PostgreSQL)', {
  skip: TEST_DATABASE_URL ? false : 'skipped: OTTER_TEST_DATABASE_URL is not set',
}, () => {
  let s: TestServer;
  let outside: pg.Client;
  /** Watches pg_stat_activity (outside a transaction: inside one, its snapshot would not move). */
  let monitor: pg.Client;
  let n = 0;

  before(async () => {
    s = await startTestServer('postgres');
    const url = (s.server.config as { databaseUrl?: string }).databaseUrl;
    outside = new pg.Client({ connectionString: url });
    await outside.connect();
    monitor = new pg.Client({ connectionString: url });
    await monitor.connect();
  });
  after(async () => {
    await outside?.end();
    await monitor?.end();
    await s?.close();
  });

  /** A thing with a classic shadow (so DeleteThing has shadow rows to delete) and an ACTIVE certificate. */
  async function thingAndCertificate(): Promise<{ thingName: string; certificateArn: string }> {
    const thingName = `race-${++n}`;
    await s.iot.send(new CreateThingCommand({ thingName }));
    await s.data.send(
      new UpdateThingShadowCommand({
        thingName,
        payload: Buffer.from(JSON.stringify({ state: { reported: { on: true } } })),
      }),
    );
    const cert = await s.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    return { thingName, certificateArn: cert.certificateArn! };
  }

  /** Waits until `count` backends of this database wait for a lock in statements containing `text`s. */
  async function waitingOn(...texts: string[]): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const { rows } = await monitor.query<{ query: string }>(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (texts.every((t) => rows.some((r) => r.query.includes(t)))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`no backend waits on ${texts.join(', ')}`);
  }

  const principals = async (thingName: string) =>
    (await outside.query('SELECT certificate_id FROM thing_principals WHERE thing_name = $1', [thingName]))
      .rows.length;

  test('delete first: the concurrent attach finds no thing', async () => {
    const { thingName, certificateArn } = await thingAndCertificate();
    await outside.query('BEGIN');
    // DeleteThing passes its principal check, then waits here (deleting the shadow rows).
    await outside.query('SELECT 1 FROM shadows WHERE thing_name = $1 FOR UPDATE', [thingName]);
    const deleted = s.iot.send(new DeleteThingCommand({ thingName }));
    await waitingOn('DELETE FROM shadows');
    let attachSettled = false;
    const attached = s.iot
      .send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn }))
      .finally(() => {
        attachSettled = true;
      });
    attached.catch(() => {});
    // The attach must wait for the delete (the thing row is held), not get in before it.
    for (let i = 0; i < 1000 && !attachSettled; i++) {
      const { rows } = await monitor.query<{ query: string }>(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (rows.some((r) => r.query.includes('UPDATE things'))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await outside.query('ROLLBACK');
    await deleted;
    await assert.rejects(attached, { name: 'ResourceNotFoundException' });
    assert.equal(await principals(thingName), 0, 'no attachment to the deleted thing');
  });

  test('attach first: the concurrent delete sees the principal and refuses', async () => {
    const { thingName, certificateArn } = await thingAndCertificate();
    const certificateId = certificateArn.split('/').pop()!;
    await outside.query('BEGIN');
    // AttachThingPrincipal holds the thing, then waits here (inserting the same attachment).
    await outside.query(
      `INSERT INTO thing_principals (thing_name, certificate_id, principal_type, attached_at)
       VALUES ($1, $2, 'NON_EXCLUSIVE_THING', 0)`,
      [thingName, certificateId],
    );
    const attached = s.iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn }));
    await waitingOn('INSERT INTO thing_principals');
    let deleteSettled = false;
    const deleted = s.iot.send(new DeleteThingCommand({ thingName })).finally(() => {
      deleteSettled = true;
    });
    deleted.catch(() => {});
    for (let i = 0; i < 1000 && !deleteSettled; i++) {
      const { rows } = await monitor.query<{ query: string }>(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (rows.some((r) => r.query.includes('things'))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await outside.query('ROLLBACK');
    await attached;
    await assert.rejects(deleted, { name: 'InvalidRequestException' });
    const thing = await s.iot.send(new DescribeThingCommand({ thingName }));
    assert.equal(thing.thingName, thingName);
    assert.equal(await principals(thingName), 1);
  });

  test('many concurrent pairs: never both succeed, never an orphan attachment', async () => {
    for (let round = 0; round < 20; round++) {
      const { thingName, certificateArn } = await thingAndCertificate();
      const [a, d] = await Promise.allSettled([
        s.iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn })),
        s.iot.send(new DeleteThingCommand({ thingName })),
      ]);
      assert.ok(a.status === 'rejected' || d.status === 'rejected', `round ${round}: both succeeded`);
      const exists = await outside.query('SELECT 1 FROM things WHERE thing_name = $1', [thingName]);
      if (exists.rows.length === 0) assert.equal(await principals(thingName), 0, `round ${round}: orphan`);
    }
  });
});
