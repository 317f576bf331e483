import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { MqttClient } from 'mqtt';
import { BROKERS, type MqttTestServer, nextMessage, startMqttTestServer } from './testing.js';

/** One contract for both brokers: what a device sees on the shadow topics. */
for (const broker of BROKERS) {
  describe(`MQTT shadow topics (${broker.name} broker)`, { skip: broker.skip }, () => {
    let s: MqttTestServer;
    let dev: MqttClient;
    // Unique per run: an external broker may be shared.
    const thing = `mq-${broker.name}-${process.pid}-${Date.now().toString(36)}`;
    const prefix = `$aws/things/${thing}/shadow`;
    const request = async (topic: string, body: unknown) => {
      const [accepted, rejected] = [`${topic}/accepted`, `${topic}/rejected`];
      await dev.subscribeAsync([accepted, rejected], { qos: 1 });
      const answer = Promise.race([
        nextMessage(dev, accepted).then((doc) => ({ ok: true, doc })),
        nextMessage(dev, rejected).then((doc) => ({ ok: false, doc })),
      ]);
      await dev.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
      return answer;
    };

    before(async () => {
      s = await startMqttTestServer(broker.name);
      await s.createThings(thing);
      dev = await s.device(thing);
    });
    after(async () => {
      await s?.close();
    });

    test('get of a missing shadow is rejected with 404 and the client token', async () => {
      const r = await request(`${prefix}/get`, { clientToken: 'tok-1' });
      assert.equal(r.ok, false);
      assert.equal(r.doc.code, 404);
      assert.equal(r.doc.clientToken, 'tok-1');
      assert.equal(typeof r.doc.timestamp, 'number');
      assert.match(String(r.doc.message), /No shadow exists/);
    });

    test('update is accepted with the token, then delta and documents follow', async () => {
      await dev.subscribeAsync([`${prefix}/update/delta`, `${prefix}/update/documents`], { qos: 1 });
      const delta = nextMessage(dev, `${prefix}/update/delta`);
      const documents = nextMessage(dev, `${prefix}/update/documents`);
      const r = await request(`${prefix}/update`, {
        state: { desired: { fw: '2.0' }, reported: { fw: '1.0' } },
        clientToken: 'tok-2',
      });
      assert.equal(r.ok, true, JSON.stringify(r.doc));
      assert.equal(r.doc.clientToken, 'tok-2');
      assert.equal(r.doc.version, 1);
      assert.deepEqual((await delta).state, { fw: '2.0' });
      const docs = await documents;
      assert.equal(docs.previous, null);
      assert.equal((docs.current as { version: number }).version, 1);
      assert.equal(docs.clientToken, 'tok-2');
    });

    test('get is accepted with state, delta and the token', async () => {
      const r = await request(`${prefix}/get`, { clientToken: 'tok-3' });
      assert.equal(r.ok, true);
      assert.deepEqual(r.doc.state, {
        desired: { fw: '2.0' },
        reported: { fw: '1.0' },
        delta: { fw: '2.0' },
      });
      assert.equal(r.doc.clientToken, 'tok-3');
    });

    test('an update over HTTP reaches MQTT subscribers: accepted, delta, documents', async () => {
      const accepted = nextMessage(dev, `${prefix}/update/accepted`);
      const delta = nextMessage(dev, `${prefix}/update/delta`);
      const documents = nextMessage(dev, `${prefix}/update/documents`);
      await s.data.send(
        new UpdateThingShadowCommand({
          thingName: thing,
          payload: Buffer.from(JSON.stringify({ state: { desired: { fw: '3.0' } }, clientToken: 'http-1' })),
        }),
      );
      assert.equal((await accepted).clientToken, 'http-1');
      assert.deepEqual((await delta).state, { fw: '3.0' });
      const docs = await documents;
      assert.equal((docs.previous as { version: number }).version, 1);
      assert.equal((docs.current as { version: number }).version, 2);
    });

    test('no delta when the update leaves desired and reported equal', async () => {
      let deltas = 0;
      const count = (t: string) => {
        if (t === `${prefix}/update/delta`) deltas++;
      };
      dev.on('message', count);
      const documents = nextMessage(dev, `${prefix}/update/documents`);
      const r = await request(`${prefix}/update`, { state: { reported: { fw: '3.0' } } });
      assert.equal(r.ok, true);
      await documents;
      dev.off('message', count);
      assert.equal(deltas, 0);
    });

    test('bad requests are rejected with AWS codes and change nothing', async () => {
      const bad = await request(`${prefix}/update`, '{not json');
      assert.equal(bad.ok, false);
      assert.equal(bad.doc.code, 400);
      const conflict = await request(`${prefix}/update`, {
        state: { reported: { x: 1 } },
        version: 1,
        clientToken: 'stale',
      });
      assert.equal(conflict.doc.code, 409);
      assert.equal(conflict.doc.clientToken, 'stale');
      const big = await request(`${prefix}/update`, { state: { reported: { blob: 'x'.repeat(9000) } } });
      assert.equal(big.doc.code, 413);
      const r = await request(`${prefix}/get`, {});
      assert.equal(r.doc.version, 3);
    });

    test('named shadows have their own topics', async () => {
      const named = `${prefix}/name/config`;
      const r = await request(`${named}/update`, { state: { reported: { mode: 'eco' } } });
      assert.equal(r.ok, true);
      assert.equal(r.doc.version, 1);
      const g = await request(`${named}/get`, {});
      assert.deepEqual(g.doc.state, { reported: { mode: 'eco' } });
      const badName = await request(`${prefix}/name/${'n'.repeat(65)}/get`, {});
      assert.equal(badName.doc.code, 400);
    });

    test('delete is accepted, a second delete is rejected with 404', async () => {
      const d = await request(`${prefix}/delete`, { clientToken: 'del-1' });
      assert.equal(d.ok, true);
      assert.equal(d.doc.version, 3);
      assert.equal(d.doc.clientToken, 'del-1');
      const again = await request(`${prefix}/delete`, {});
      assert.equal(again.doc.code, 404);
    });

    test('an unknown thing is rejected with 404', async () => {
      const other = `${thing}-ghost`;
      const ghost = await s.device(other).catch(() => undefined);
      // The embedded broker refuses unknown things at CONNECT; an external broker lets them in.
      if (broker.name === 'embedded') return assert.equal(ghost, undefined);
      assert.ok(ghost);
      const topic = `$aws/things/${other}/shadow/update`;
      await ghost.subscribeAsync(`${topic}/rejected`);
      const rejected = nextMessage(ghost, `${topic}/rejected`);
      await ghost.publishAsync(topic, JSON.stringify({ state: { reported: { a: 1 } } }));
      assert.equal((await rejected).code, 404);
    });

    test('Otter publishes and routes other topics through the same service', async () => {
      s.mqtt.route('$aws/things/{thingName}/test/{word}/echo', async (thingName, params, payload, reply) => {
        await reply(`$aws/things/${thingName}/test/${params.word}/echo/accepted`, {
          thingName,
          word: params.word,
          body: payload.toString('utf8'),
        });
      });
      const topic = `$aws/things/${thing}/test/hello/echo`;
      await dev.subscribeAsync([`${topic}/accepted`, `$aws/things/${thing}/notify`], { qos: 1 });
      await new Promise((r) => setTimeout(r, 200)); // the external broker's subscription is asynchronous
      const echoed = nextMessage(dev, `${topic}/accepted`);
      await dev.publishAsync(topic, 'hi', { qos: 1 });
      assert.deepEqual(await echoed, { thingName: thing, word: 'hello', body: 'hi' });
      const notified = nextMessage(dev, `$aws/things/${thing}/notify`);
      await s.mqtt.publish(`$aws/things/${thing}/notify`, { jobs: {} });
      assert.deepEqual(await notified, { jobs: {} });
    });
  });
}
