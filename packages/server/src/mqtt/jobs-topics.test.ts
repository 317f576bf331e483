import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CancelJobCommand,
  CreateDynamicThingGroupCommand,
  CreateJobCommand,
  DescribeJobExecutionCommand,
  DescribeThingCommand,
  ListThingsInThingGroupCommand,
  SearchIndexCommand,
} from '@aws-sdk/client-iot';
import type { MqttClient } from 'mqtt';
import { jobsRejection, parseJobsRequest } from './jobs-topics.js';
import { BROKERS, type MqttTestServer, nextMessage, startMqttTestServer } from './testing.js';

type Doc = Record<string, unknown>;

/** The first message on `topic` that satisfies `ok` (pushes are asynchronous: older ones may come first). */
async function messageWhere(client: MqttClient, topic: string, ok: (doc: Doc) => boolean): Promise<Doc> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const doc = await nextMessage(client, topic, Math.max(1, deadline - Date.now()));
    if (ok(doc)) return doc;
  }
}

describe('jobs topics: request parsing and rejections', () => {
  test('empty payload is {}, bad JSON is InvalidJson, non-objects are InvalidRequest', () => {
    assert.deepEqual(parseJobsRequest(Buffer.alloc(0)), {});
    const code = (p: string | Buffer) =>
      jobsRejection(
        (() => {
          try {
            parseJobsRequest(Buffer.isBuffer(p) ? p : Buffer.from(p));
          } catch (e) {
            return e;
          }
        })(),
        0,
        undefined,
      ).code;
    assert.equal(code('{nope'), 'InvalidJson');
    assert.equal(code(Buffer.from([0x7b, 0xff, 0x7d])), 'InvalidJson');
    assert.equal(code('[1]'), 'InvalidRequest');
    assert.equal(code('null'), 'InvalidRequest');
  });

  test('unknown errors become InternalError without their message', () => {
    const r = jobsRejection(new Error('secret stack detail'), 1_700_000_000_123, 'tok');
    assert.deepEqual(r, {
      code: 'InternalError',
      message: 'Internal service failure',
      clientToken: 'tok',
      timestamp: 1_700_000_000,
    });
  });
});

/** One contract for both brokers: what a device sees on the jobs topics. */
for (const broker of BROKERS) {
  describe(`MQTT jobs topics (${broker.name} broker)`, { skip: broker.skip }, () => {
    let s: MqttTestServer;
    let dev: MqttClient;
    // Unique per run: an external broker may be shared.
    const run = `${process.pid}-${Date.now().toString(36)}`;
    const thing = `mj-${broker.name}-${run}`;
    const other = `mj-other-${broker.name}-${run}`;
    const jobs = `$aws/things/${thing}/jobs`;
    const jobId = `fw-${run}`;
    let thingArn = '';
    let otherArn = '';

    /** Publishes a request and waits for its /accepted or /rejected reply. */
    const request = async (topic: string, body: unknown) => {
      const answer = Promise.race([
        nextMessage(dev, `${topic}/accepted`).then((doc) => ({ ok: true, doc })),
        nextMessage(dev, `${topic}/rejected`).then((doc) => ({ ok: false, doc })),
      ]);
      await dev.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
      return answer;
    };

    before(async () => {
      s = await startMqttTestServer(broker.name);
      await s.createThings(thing, other);
      thingArn = (await s.iot.send(new DescribeThingCommand({ thingName: thing }))).thingArn!;
      otherArn = (await s.iot.send(new DescribeThingCommand({ thingName: other }))).thingArn!;
      dev = await s.device(thing);
      dev.setMaxListeners(50); // one listener per awaited reply
      await dev.subscribeAsync(`${jobs}/#`, { qos: 1 });
      await new Promise((r) => setTimeout(r, 100)); // the external broker's subscription is asynchronous
    });
    after(async () => {
      await s?.close();
    });

    test('full device flow: notify-next, start-next, IN_PROGRESS, SUCCEEDED, notify-next empty', async () => {
      const notifyNext = nextMessage(dev, `${jobs}/notify-next`);
      const notify = nextMessage(dev, `${jobs}/notify`);
      await s.iot.send(
        new CreateJobCommand({
          jobId,
          targets: [thingArn],
          document: JSON.stringify({ operation: 'install', version: '2.0' }),
        }),
      );
      const pushed = await notifyNext;
      const execution = pushed.execution as Doc;
      assert.equal(execution.jobId, jobId);
      assert.equal(execution.thingName, thing);
      assert.equal(execution.status, 'QUEUED');
      assert.equal(execution.versionNumber, 1);
      assert.deepEqual(execution.jobDocument, { operation: 'install', version: '2.0' });
      assert.equal(typeof pushed.timestamp, 'number');
      const summary = (await notify).jobs as Doc;
      assert.equal(((summary.QUEUED as Doc[])[0] as Doc).jobId, jobId);
      assert.equal(summary.IN_PROGRESS, undefined);

      const pending = await request(`${jobs}/get`, { clientToken: 'get-1' });
      assert.equal(pending.ok, true, JSON.stringify(pending.doc));
      assert.equal(pending.doc.clientToken, 'get-1');
      assert.deepEqual(
        (pending.doc.queuedJobs as Doc[]).map((j) => j.jobId),
        [jobId],
      );
      assert.deepEqual(pending.doc.inProgressJobs, []);

      const started = await request(`${jobs}/start-next`, {
        statusDetails: { step: 'download' },
        clientToken: 'start-1',
      });
      assert.equal(started.ok, true, JSON.stringify(started.doc));
      const running = started.doc.execution as Doc;
      assert.equal(running.status, 'IN_PROGRESS');
      assert.equal(running.versionNumber, 2);
      assert.deepEqual(running.statusDetails, { step: 'download' });
      assert.deepEqual(running.jobDocument, { operation: 'install', version: '2.0' });
      assert.equal(started.doc.clientToken, 'start-1');

      const progress = await request(`${jobs}/${jobId}/update`, {
        status: 'IN_PROGRESS',
        statusDetails: { step: 'flash' },
        expectedVersion: 2,
        includeJobExecutionState: true,
        clientToken: 'upd-1',
      });
      assert.equal(progress.ok, true, JSON.stringify(progress.doc));
      assert.deepEqual(progress.doc.executionState, {
        status: 'IN_PROGRESS',
        statusDetails: { step: 'flash' },
        versionNumber: 3,
      });
      assert.equal(progress.doc.jobDocument, undefined);

      const described = await request(`${jobs}/$next/get`, { includeJobDocument: false });
      assert.equal((described.doc.execution as Doc).jobId, jobId);
      assert.equal((described.doc.execution as Doc).jobDocument, undefined);

      const empty = messageWhere(dev, `${jobs}/notify-next`, (d) => d.execution === undefined);
      const done = await request(`${jobs}/${jobId}/update`, {
        status: 'SUCCEEDED',
        expectedVersion: 3,
        includeJobDocument: true,
      });
      assert.equal(done.ok, true, JSON.stringify(done.doc));
      assert.deepEqual(done.doc.jobDocument, { operation: 'install', version: '2.0' });
      const last = await empty;
      assert.equal(last.execution, undefined);
      assert.equal(typeof last.timestamp, 'number');

      const out = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }));
      assert.equal(out.execution?.status, 'SUCCEEDED');
      const none = await request(`${jobs}/$next/get`, { clientToken: 'next-2' });
      assert.equal(none.ok, true);
      assert.equal(none.doc.execution, undefined);
      assert.equal(none.doc.clientToken, 'next-2');
    });

    test('a terminal execution cannot change: InvalidStateTransition with its executionState', async () => {
      const r = await request(`${jobs}/${jobId}/update`, { status: 'IN_PROGRESS', clientToken: 'late' });
      assert.equal(r.ok, false);
      assert.equal(r.doc.code, 'InvalidStateTransition');
      assert.equal(r.doc.clientToken, 'late');
      assert.deepEqual(r.doc.executionState, {
        status: 'SUCCEEDED',
        statusDetails: { step: 'flash' },
        versionNumber: 4,
      });
    });

    test('VersionMismatch carries the executionState and changes nothing', async () => {
      const id = `vm-${run}`;
      const queued = messageWhere(dev, `${jobs}/notify-next`, (d) => (d.execution as Doc)?.jobId === id);
      await s.iot.send(new CreateJobCommand({ jobId: id, targets: [thingArn], document: '{"a":1}' }));
      await queued;
      const r = await request(`${jobs}/${id}/update`, {
        status: 'IN_PROGRESS',
        expectedVersion: 7,
        clientToken: 'vm-1',
      });
      assert.equal(r.ok, false);
      assert.equal(r.doc.code, 'VersionMismatch');
      assert.equal(r.doc.clientToken, 'vm-1');
      assert.deepEqual(r.doc.executionState, { status: 'QUEUED', statusDetails: {}, versionNumber: 1 });
      const get = await request(`${jobs}/${id}/get`, {});
      assert.equal((get.doc.execution as Doc).versionNumber, 1);
    });

    test('bad requests: invalid JSON, bad members, unknown status; nothing changes', async () => {
      const id = `vm-${run}`;
      const bad = await request(`${jobs}/${id}/update`, '{"status": ');
      assert.equal(bad.doc.code, 'InvalidJson');
      assert.equal(typeof bad.doc.timestamp, 'number');
      const notObject = await request(`${jobs}/get`, '"hello"');
      assert.equal(notObject.doc.code, 'InvalidRequest');
      const token = await request(`${jobs}/get`, { clientToken: 'x'.repeat(65) });
      assert.equal(token.doc.code, 'InvalidRequest');
      const flag = await request(`${jobs}/${id}/get`, { includeJobDocument: 'yes', clientToken: 'f' });
      assert.equal(flag.doc.code, 'InvalidRequest');
      assert.equal(flag.doc.clientToken, 'f');
      const status = await request(`${jobs}/${id}/update`, { status: 'QUEUED' });
      assert.equal(status.doc.code, 'InvalidRequest');
      const missing = await request(`${jobs}/${id}/update`, {});
      assert.equal(missing.doc.code, 'InvalidRequest');
      const details = await request(`${jobs}/${id}/update`, {
        status: 'IN_PROGRESS',
        statusDetails: { k: 1 },
      });
      assert.equal(details.doc.code, 'InvalidRequest');
      const get = await request(`${jobs}/${id}/get`, {});
      assert.equal((get.doc.execution as Doc).versionNumber, 1);
      assert.equal((get.doc.execution as Doc).status, 'QUEUED');
    });

    test("another thing's job is not reachable: ResourceNotFound", async () => {
      const id = `other-${run}`;
      await s.iot.send(new CreateJobCommand({ jobId: id, targets: [otherArn], document: '{}' }));
      const get = await request(`${jobs}/${id}/get`, { clientToken: 'o-1' });
      assert.equal(get.ok, false);
      assert.equal(get.doc.code, 'ResourceNotFound');
      assert.equal(get.doc.clientToken, 'o-1');
      const upd = await request(`${jobs}/${id}/update`, { status: 'SUCCEEDED' });
      assert.equal(upd.doc.code, 'ResourceNotFound');
      const unknown = await request(`${jobs}/no-such-job/get`, {});
      assert.equal(unknown.doc.code, 'ResourceNotFound');
    });

    test('canceling a job pushes notify-next without it', async () => {
      const id = `vm-${run}`;
      const pushed = messageWhere(dev, `${jobs}/notify-next`, (d) => d.execution === undefined);
      await s.iot.send(new CancelJobCommand({ jobId: id }));
      const doc = await pushed;
      assert.equal(doc.execution, undefined);
    });

    test('a topic under jobs/ that maps to no API: InvalidTopic on its /rejected', async () => {
      const deep = await request(`${jobs}/foo/bar/baz`, { clientToken: 'it-1', status: 'SUCCEEDED' });
      assert.equal(deep.ok, false);
      assert.equal(deep.doc.code, 'InvalidTopic');
      assert.equal(deep.doc.clientToken, 'it-1');
      assert.equal(typeof deep.doc.timestamp, 'number');
      assert.match(String(deep.doc.message), /does not map to any API/);
      const extra = await request(`${jobs}/get/extra`, '');
      assert.deepEqual([extra.ok, extra.doc.code, extra.doc.clientToken], [false, 'InvalidTopic', undefined]);
      const short = await request(`${jobs}/foo`, '{not json');
      assert.deepEqual([short.ok, short.doc.code], [false, 'InvalidTopic'], 'the topic is checked first');
      const empty = await request(`${jobs}//get`, { clientToken: 'it-2' });
      assert.deepEqual([empty.doc.code, empty.doc.clientToken], ['InvalidTopic', 'it-2']);
      // The APIs are still served.
      const get = await request(`${jobs}/get`, { clientToken: 'it-3' });
      assert.deepEqual([get.ok, get.doc.clientToken], [true, 'it-3']);
    });

    test('publishes to reply topics get no reply (no loops)', async () => {
      const seen: string[] = [];
      const record = (topic: string) => seen.push(topic);
      dev.on('message', record);
      try {
        for (const t of [
          `${jobs}/get/accepted`,
          `${jobs}/start-next/rejected`,
          `${jobs}/${jobId}/update/accepted`,
          `${jobs}/${jobId}/get/rejected`,
          `${jobs}/foo/rejected`,
          `${jobs}/notify`,
          `${jobs}/notify-next`,
        ])
          await dev.publishAsync(t, JSON.stringify({ clientToken: 'loop' }), { qos: 1 });
        // Requests are answered in order: once this one's reply is here, the others were handled.
        const last = await request(`${jobs}/after/the/replies`, { clientToken: 'last' });
        assert.equal(last.doc.code, 'InvalidTopic');
      } finally {
        dev.off('message', record);
      }
      const replies = seen.filter((t) =>
        /\/(accepted|rejected|notify|notify-next)\/(accepted|rejected)$/.test(t),
      );
      assert.deepEqual(replies, []);
      assert.ok(seen.includes(`${jobs}/after/the/replies/rejected`));
    });

    test('a device cannot subscribe to or publish on another thing’s jobs topics', {
      skip: broker.name === 'external' ? 'access control is the external broker’s job' : false,
    }, async () => {
      for (const f of [
        `$aws/things/${other}/jobs/notify-next`,
        `$aws/things/${other}/jobs/#`,
        '$aws/things/+/jobs/notify',
      ])
        await assert.rejects(dev.subscribeAsync(f), /Subscribe error/, f);
      // `other` publishing on this thing's update topic is disconnected; the execution stays.
      const intruder = await s.device(other);
      const closed = new Promise<void>((r) => intruder.once('close', () => r()));
      intruder.publish(`${jobs}/${jobId}/update`, JSON.stringify({ status: 'FAILED' }));
      await closed;
      const out = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }));
      assert.equal(out.execution?.status, 'SUCCEEDED');
    });

    test('connectivity is recorded: connectivity.connected searches follow connects and disconnects', {
      skip: broker.name === 'external' ? 'only the embedded broker sees connections' : false,
    }, async () => {
      const search = async (q: string) =>
        ((await s.iot.send(new SearchIndexCommand({ queryString: q }))).things ?? []).map((t) => t.thingName);
      const waitFor = async (q: string, name: string, present: boolean) => {
        for (let i = 0; i < 50; i++) {
          if ((await search(q)).includes(name) === present) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail(`${name} ${present ? 'not' : 'still'} in ${q}`);
      };
      const group = `online-${broker.name}`;
      await s.iot.send(
        new CreateDynamicThingGroupCommand({
          thingGroupName: group,
          queryString: 'connectivity.connected:true',
        }),
      );
      const members = async () =>
        (await s.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group }))).things ?? [];
      const o = await s.device(other);
      await waitFor('connectivity.connected:true', other, true);
      assert.ok((await members()).includes(other), 'a dynamic group on connectivity follows the connect');
      await o.endAsync();
      await waitFor('connectivity.connected:false', other, true);
      for (let i = 0; i < 50 && (await members()).includes(other); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(!(await members()).includes(other), 'and the disconnect');
      const result = await s.iot.send(new SearchIndexCommand({ queryString: `thingName:${other}` }));
      const c = result.things?.[0]?.connectivity;
      assert.equal(c?.connected, false);
      assert.equal(c?.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
    });
  });
}
