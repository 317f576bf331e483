import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { type MqttTestServer, nextMessage, startMqttTestServer } from './testing.js';

describe('embedded broker: per-thing access', () => {
  let s: MqttTestServer;
  before(async () => {
    s = await startMqttTestServer('embedded');
    await s.createThings('alpha', 'beta');
  });
  after(async () => {
    await s?.close();
  });

  test('devices need a valid device token and a registered thing', async () => {
    const refuse = (opts: object) =>
      assert.rejects(connectAsync(s.brokerUrl, { reconnectPeriod: 0, connectTimeout: 3000, ...opts }));
    await refuse({ clientId: 'alpha' });
    await refuse({ clientId: 'alpha', username: 'alpha', password: 'wrong' });
    await refuse({ clientId: 'gamma', username: 'gamma', password: 'x' });
    await assert.rejects(s.device('gamma')); // valid token, unknown thing
    await assert.rejects(s.device('a/b'));
  });

  test('subscriptions outside the own thing are refused, the connection stays', async () => {
    const a = await s.device('alpha');
    // SUBACK 0x80: mqtt.js turns the refusal into an error.
    for (const f of [
      '$aws/things/beta/shadow/#',
      '#',
      '$aws/things/+/shadow/get/accepted',
      '$share/g/$aws/things/alpha/#',
    ])
      await assert.rejects(a.subscribeAsync(f), /Subscribe error/, f);
    assert.equal((await a.subscribeAsync('$aws/things/alpha/#'))[0]?.qos, 0);
    assert.ok(a.connected);
  });

  test('publishing to another thing disconnects the device and changes nothing', async () => {
    const a = await s.device('alpha');
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    a.publish('$aws/things/beta/shadow/update', JSON.stringify({ state: { reported: { x: 1 } } }));
    await closed;
    const b = await s.device('beta');
    await b.subscribeAsync('$aws/things/beta/shadow/get/rejected');
    const r = nextMessage(b, '$aws/things/beta/shadow/get/rejected');
    await b.publishAsync('$aws/things/beta/shadow/get', '{}');
    assert.equal((await r).code, 404);
  });

  test('a reply reaches a requester that did not subscribe', async () => {
    const a = await s.device('alpha', { clientId: 'alpha' });
    const r = nextMessage(a, '$aws/things/alpha/shadow/update/accepted');
    await a.publishAsync(
      '$aws/things/alpha/shadow/update',
      JSON.stringify({ state: { reported: { on: true } } }),
    );
    assert.equal((await r).version, 1);
  });

  test('MQTT over WebSocket on /mqtt', async () => {
    const ws = await s.device('beta', { ...{}, reconnectPeriod: 0 }).then(async (c) => {
      await c.endAsync();
      const { deviceToken } = await import('./device-token.js');
      return connectAsync(`ws://127.0.0.1:${s.mqtt.ports.ws}/mqtt`, {
        clientId: 'beta',
        username: 'beta',
        password: deviceToken('otter-test-secret-key', 'beta'),
        reconnectPeriod: 0,
      });
    });
    const r = nextMessage(ws, '$aws/things/beta/shadow/get/rejected');
    await ws.publishAsync('$aws/things/beta/shadow/get', '{}');
    assert.equal((await r).code, 404);
    await ws.endAsync();
  });
});
