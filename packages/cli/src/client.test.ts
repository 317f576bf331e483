import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListThingsCommand } from '@aws-sdk/client-iot';
import { startTestServer, type TestServer } from '../../server/src/testing/test-server.js';
import { CliError, createClient, DEFAULT_ENDPOINT, resolveEndpoint, resolveRegion } from './client.js';

describe('client settings', () => {
  test('endpoint: --endpoint, else OTTER_ENDPOINT, else the default; invalid ones refused', () => {
    assert.equal(resolveEndpoint({}, {}), DEFAULT_ENDPOINT);
    assert.equal(
      resolveEndpoint({}, { OTTER_ENDPOINT: 'https://otter.example:8443/' }),
      'https://otter.example:8443',
    );
    assert.equal(resolveEndpoint({ endpoint: 'http://a:1' }, { OTTER_ENDPOINT: 'http://b:2' }), 'http://a:1');
    for (const bad of ['not a url', 'ftp://x']) {
      assert.throws(
        () => resolveEndpoint({ endpoint: bad }, {}),
        (e: unknown) => e instanceof CliError && e.exitCode === 2 && /invalid endpoint/.test(e.message),
      );
    }
  });

  test('region: --region, else AWS_REGION, else AWS_DEFAULT_REGION', async () => {
    assert.equal(await resolveRegion({ region: 'ap-south-1' }, { AWS_REGION: 'x' }), 'ap-south-1');
    assert.equal(await resolveRegion({}, { AWS_REGION: 'eu-west-3', AWS_DEFAULT_REGION: 'x' }), 'eu-west-3');
    assert.equal(await resolveRegion({}, { AWS_DEFAULT_REGION: 'sa-east-1' }), 'sa-east-1');
  });
});

describe('client against a real server', () => {
  let server: TestServer;
  const saved = { ...process.env };
  before(async () => {
    server = await startTestServer();
    process.env.AWS_ACCESS_KEY_ID = server.server.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = server.server.secretAccessKey;
    delete process.env.AWS_PROFILE;
  });
  after(async () => {
    process.env = saved;
    await server?.close();
  });

  test('iotClient speaks the AWS IoT API; nativeJson the native API', async () => {
    const client = await createClient({ endpoint: server.server.url, region: 'eu-west-1' }, {});
    assert.equal(client.region, 'eu-west-1');
    const things = await client.iotClient().send(new ListThingsCommand({}));
    assert.deepEqual(things.things, []);
    const keys = await client.nativeJson<{ signingKeys: unknown[] }>('GET', '/v1/signing-keys');
    assert.deepEqual(keys.signingKeys, []);
  });

  test('server errors become CliError with the type and message', async () => {
    const client = await createClient({ endpoint: server.server.url, region: 'eu-west-1' }, {});
    await assert.rejects(client.nativeJson('GET', '/v1/signing-keys/missing'), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.equal(e.type, 'ResourceNotFoundException');
      assert.equal(e.status, 404);
      assert.equal(e.message, 'ResourceNotFoundException: Signing key missing cannot be found.');
      return true;
    });
  });
});
