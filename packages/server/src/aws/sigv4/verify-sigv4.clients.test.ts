/**
 * Real clients over real HTTP: the AWS SDK v3 (@aws-sdk/client-iot, client-iot-data-plane),
 * botocore (SigV4Auth, SigV4QueryAuth and its clients) and the `aws` CLI sign requests to a bare
 * node:http server that verifies exactly what arrived on the wire.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CreateThingCommand, DescribeThingCommand, IoTClient, ListThingsCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { CREDENTIALS, options, sha256Hex } from './sigv4-test-support.js';
import { type SignedRequest, type SigV4Identity, verifySigV4 } from './verify-sigv4.js';

const run = promisify(execFile);

type Outcome = { url: string; identity?: SigV4Identity; error?: string };
const outcomes: Outcome[] = [];

function toSignedRequest(req: IncomingMessage, body: Buffer): SignedRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    rawPath: q < 0 ? url : url.slice(0, q),
    rawQuery: q < 0 ? '' : url.slice(q + 1),
    headers: req.headersDistinct,
    bodySha256: sha256Hex(body),
  };
}

/** Verifies a request as the server would, from a method, URL, headers and body. */
function verify(req: SignedRequest): Outcome {
  const url = `${req.rawPath}?${req.rawQuery}`;
  try {
    return { url, identity: verifySigV4(req, options({ now: Date.now() })) };
  } catch (error) {
    return { url, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    outcomes.push(verify(toSignedRequest(req, Buffer.concat(chunks))));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
let endpoint = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

/** Runs `send` and returns what the server concluded about each request it made. */
async function observe(send: () => Promise<unknown>): Promise<Outcome[]> {
  outcomes.length = 0;
  await send();
  assert.ok(outcomes.length > 0, 'the client sent nothing');
  return [...outcomes];
}

function assertVerified(seen: readonly Outcome[], service: string): void {
  for (const outcome of seen) {
    assert.equal(outcome.error, undefined, `${outcome.url} was rejected`);
    assert.equal(outcome.identity?.service, service);
    assert.equal(outcome.identity?.accessKeyId, CREDENTIALS.accessKeyId);
  }
}

describe('AWS SDK v3 clients', () => {
  const config = () => ({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });

  test('@aws-sdk/client-iot (service iot)', async () => {
    const iot = new IoTClient(config());
    const commands = [
      new DescribeThingCommand({ thingName: 'a:b' }),
      new ListThingsCommand({
        nextToken: 'abc/def==',
        attributeName: 'color',
        attributeValue: 'dark blue',
        maxResults: 5,
      }),
      new CreateThingCommand({ thingName: '$package', attributePayload: { attributes: { k: 'v w' } } }),
    ];
    const seen = [];
    for (const command of commands)
      seen.push(...(await observe(() => iot.send(command as DescribeThingCommand))));
    iot.destroy();
    assert.match(
      seen.map((o) => o.url).join(' '),
      /\/things\/a%3Ab\?.*nextToken=abc%2Fdef%3D%3D.*\/things\/%24package/,
    );
    assertVerified(seen, 'iot');
  });

  test('@aws-sdk/client-iot-data-plane (service iotdata)', async () => {
    const data = new IoTDataPlaneClient(config());
    const seen = [
      ...(await observe(() =>
        data.send(new GetThingShadowCommand({ thingName: '$package', shadowName: 'a b' })),
      )),
      ...(await observe(() =>
        data.send(
          new PublishCommand({ topic: 'dt/a b/$aws', qos: 1, payload: new TextEncoder().encode('hi') }),
        ),
      )),
    ];
    data.destroy();
    assertVerified(seen, 'iotdata');
  });
});

const PYTHON_ENV = {
  ...process.env,
  AWS_CONFIG_FILE: '/nonexistent',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_MAX_ATTEMPTS: '1',
};

/** Signs with botocore directly (printing the signed requests) and calls through its clients. */
const BOTOCORE_SCRIPT = `
import json, sys
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import get_session

endpoint = sys.argv[1]
creds = Credentials(${JSON.stringify(CREDENTIALS.accessKeyId)}, ${JSON.stringify(CREDENTIALS.secretAccessKey)})
signed = []
for method, url, body in [
    ('GET', endpoint + '/things/a%3Ab?nextToken=abc%2Fdef==&k=v+w&k=a', None),
    ('POST', endpoint + '/things/%24package/jobs/a%2Fb/./x', b'{"status":"SUCCEEDED"}'),
]:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(creds, 'iot', 'us-east-1').add_auth(request)
    signed.append({'method': method, 'url': request.url, 'headers': dict(request.headers.items()), 'body': (body or b'').decode()})
request = AWSRequest(method='GET', url=endpoint + '/things/a%3Ab?x=a+b')
SigV4QueryAuth(creds, 'iot', 'us-east-1', expires=60).add_auth(request)
signed.append({'method': 'GET', 'url': request.url, 'headers': {}, 'body': ''})
print(json.dumps(signed))

session = get_session()
iot = session.create_client('iot', endpoint_url=endpoint)
iot.describe_thing(thingName='a:b')
iot.list_things(nextToken='abc/def==', attributeName='color', attributeValue='dark blue', maxResults=5)
iot.create_thing(thingName='$package', attributePayload={'attributes': {'k': 'v w'}})
data = session.create_client('iot-data', endpoint_url=endpoint)
data.get_thing_shadow(thingName='$package', shadowName='a b')
data.publish(topic='dt/a b/$aws', qos=1, payload=b'hi')
`;

async function missing(command: string, args: string[]): Promise<string | undefined> {
  try {
    await run(command, args, { env: PYTHON_ENV, timeout: 30_000 });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
}

describe('botocore and the aws CLI', () => {
  test('botocore SigV4Auth / SigV4QueryAuth and botocore clients', async (t) => {
    const unavailable = await missing('python3', ['-c', 'import botocore']);
    if (unavailable) return t.skip(`python3 with botocore is not available (${unavailable})`);

    let stdout = '';
    const seen = await observe(async () => {
      ({ stdout } = await run('python3', ['-c', BOTOCORE_SCRIPT, endpoint], { env: PYTHON_ENV }));
    });
    assert.equal(seen.length, 5, 'five botocore client calls');
    assert.deepEqual(
      seen.filter((o) => o.error),
      [],
    );
    assert.deepEqual(new Set(seen.map((o) => o.identity?.service)), new Set(['iot', 'iotdata']));

    const printed = JSON.parse(stdout) as Array<{
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    }>;
    for (const { method, url, headers, body } of printed) {
      const parsed = new URL(url);
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
      const rawPath = url.slice(parsed.origin.length, url.length - (query ? query.length + 1 : 0));
      const outcome = verify({
        method,
        rawPath,
        rawQuery: query,
        headers: { host: parsed.host, ...lower },
        bodySha256: sha256Hex(body),
      });
      assert.equal(outcome.error, undefined, `${method} ${url}`);
    }
  });

  test('aws CLI', async (t) => {
    const unavailable = await missing('aws', ['--version']);
    if (unavailable) return t.skip(`the aws CLI is not available (${unavailable})`);
    const seen = await observe(() =>
      run('aws', ['iot', 'describe-thing', '--thing-name', 'a:b', '--endpoint-url', endpoint], {
        env: PYTHON_ENV,
      }),
    );
    assertVerified(seen, 'iot');
  });
});
