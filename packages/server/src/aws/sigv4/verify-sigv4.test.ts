import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREDENTIALS,
  EMPTY_SHA256,
  fails,
  HOST,
  MISMATCH,
  NOW,
  options,
  type SignOptions,
  sha256Hex,
  signRequest,
  type TestRequest,
} from './sigv4-test-support.js';
import { parseCredentialScope, type SignedRequest, verifySigV4 } from './verify-sigv4.js';

describe('AWS SigV4 test suite vectors (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service)', () => {
  const suite = options({
    lookupSecret: (id) => (id === 'AKIDEXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' : undefined),
    now: Date.UTC(2015, 7, 30, 12, 36, 0),
  });
  const vectors = [
    ['get-vanilla', 'GET', '', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    [
      'get-vanilla-query-order-key-case',
      'GET',
      'Param2=value2&Param1=value1',
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
    ['post-vanilla', 'POST', '', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
  ] as const;
  for (const [name, method, rawQuery, signature] of vectors) {
    test(name, () => {
      const req: SignedRequest = {
        method,
        rawPath: '/',
        rawQuery,
        headers: {
          host: 'example.amazonaws.com',
          'x-amz-date': '20150830T123600Z',
          authorization:
            'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
            `SignedHeaders=host;x-amz-date, Signature=${signature}`,
        },
        bodySha256: EMPTY_SHA256,
      };
      assert.deepEqual(verifySigV4(req, suite), {
        accessKeyId: 'AKIDEXAMPLE',
        region: 'us-east-1',
        service: 'service',
        signedAt: suite.now,
      });
      fails(
        { ...req, method: method === 'GET' ? 'POST' : 'GET' },
        'InvalidSignatureException',
        MISMATCH,
        suite,
      );
    });
  }
});

describe('requests signed by @smithy/signature-v4 verify', () => {
  const cases: Array<[string, TestRequest, SignOptions?]> = [
    ['root', { path: '/' }],
    ['encoded colon in a label', { path: '/things/a%3Ab' }],
    [
      'encoded dollar (iotdata)',
      { path: '/things/%24package/shadow', query: { name: 'a b' } },
      { service: 'iotdata' },
    ],
    ['raw dollar and encoded slash', { path: '/things/$package/jobs/a%2Fb' }, { service: 'iot-jobs-data' }],
    ['dot segments and empty segments', { path: '/a/./b/../c//d/' }],
    ['non-ASCII path', { path: '/things/%C3%BCber' }],
    [
      'repeated keys, spaces, nextToken',
      {
        path: '/things',
        query: {
          nextToken: 'abc/def==',
          attributeValue: ['b v', 'a v', 'a+v'],
          'a-b': '1',
          a: '2',
          empty: '',
        },
      },
    ],
    ['unicode and reserved characters in query', { path: '/jobs', query: { 'q*': "ü!'()~", 'x y': '%41' } }],
    [
      'POST with JSON body and extra signed header',
      {
        method: 'POST',
        path: '/things/t1',
        body: '{"attributePayload":{"attributes":{"k":"v w"}}}',
        headers: { 'content-type': 'application/json', 'x-amz-meta': '  spaced   value  ' },
      },
    ],
    [
      'PATCH with unsigned payload',
      { method: 'PATCH', path: '/jobs/j1', body: '{}' },
      { unsignedPayload: true },
    ],
    ['other region', { path: '/things' }, { region: 'eu-west-3' }],
  ];
  for (const [name, input, opts] of cases) {
    test(name, async () => {
      const req = await signRequest(input, opts);
      const identity = verifySigV4(req, options());
      assert.deepEqual(identity, {
        accessKeyId: CREDENTIALS.accessKeyId,
        region: opts?.region ?? 'us-east-1',
        service: opts?.service ?? 'iot',
        signedAt: NOW,
      });
      assert.deepEqual(parseCredentialScope(req), {
        accessKeyId: CREDENTIALS.accessKeyId,
        date: '20260101',
        region: identity.region,
        service: identity.service,
      });
    });
  }

  test('nextToken sent with unencoded "=" still verifies (re-encoded canonically)', async () => {
    const req = await signRequest({ path: '/things', query: { nextToken: 'abc/def==' } });
    assert.equal(req.rawQuery, 'nextToken=abc%2Fdef%3D%3D');
    verifySigV4({ ...req, rawQuery: 'nextToken=abc%2Fdef==' }, options());
    verifySigV4({ ...req, rawQuery: 'nextToken=abc%2fdef%3d%3d' }, options());
  });

  test('repeated headers given as an array are joined with ","', async () => {
    const req = await signRequest({ path: '/', headers: { 'x-multi': 'a,b' } });
    verifySigV4({ ...req, headers: { ...req.headers, 'x-multi': ['a', ' b '] } }, options());
  });
});

describe('rejections', () => {
  test('unsigned request', () => {
    const req: SignedRequest = {
      method: 'GET',
      rawPath: '/',
      rawQuery: 'a=1',
      headers: {},
      bodySha256: EMPTY_SHA256,
    };
    fails(req, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    assert.equal(parseCredentialScope(req), undefined);
  });

  test('unknown access key', async () => {
    const req = await signRequest(
      { path: '/' },
      { credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' } },
    );
    fails(req, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  });

  test('wrong secret, bad signature shapes', async () => {
    const req = await signRequest(
      { path: '/' },
      { credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' } },
    );
    fails(req, 'InvalidSignatureException', MISMATCH);
    const good = await signRequest({ path: '/' });
    const auth = good.headers.authorization as string;
    for (const signature of ['', 'abc', auth.slice(-64).toUpperCase(), `${auth.slice(-64)}0`]) {
      const authorization = auth.replace(/Signature=.*$/, `Signature=${signature}`);
      fails({ ...good, headers: { ...good.headers, authorization } }, 'InvalidSignatureException', /./);
    }
  });

  test('malformed Authorization headers name what is wrong', async () => {
    const req = await signRequest({ path: '/' });
    const auth = req.headers.authorization as string;
    const withAuth = (authorization: string) => ({ ...req, headers: { ...req.headers, authorization } });
    fails(
      withAuth(auth.replace(/, Signature=.*$/, '')),
      'InvalidSignatureException',
      "Authorization header requires 'Signature' parameter.",
    );
    fails(
      withAuth('AWS4-HMAC-SHA256'),
      'InvalidSignatureException',
      "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' " +
        "parameter. Authorization header requires 'Signature' parameter.",
    );
    fails(
      withAuth(auth.replace('SignedHeaders=host;', 'SignedHeaders=constructor;__proto__;host;')),
      'InvalidSignatureException',
      MISMATCH,
    );
    fails(withAuth('Bearer abc'), 'InvalidSignatureException', /^Unsupported Authorization type 'Bearer'/);
    fails(
      withAuth(auth.replace('/aws4_request', '/aws5_request')),
      'InvalidSignatureException',
      /'aws5_request'/,
    );
    fails(withAuth(auth.replace('/iot/', '/')), 'InvalidSignatureException', /Credential is malformed/);
    fails(withAuth(auth.replace('20260101/', '2026011/')), 'InvalidSignatureException', /valid date/);
    fails(
      withAuth(auth.replace('SignedHeaders=host;', 'SignedHeaders=')),
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
    fails(
      withAuth(auth.replace('20260101/', '20251231/')),
      'InvalidSignatureException',
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20251231' != " +
        "'20260101', from '20260101T002000Z'.",
    );
  });

  test('x-amz-date missing or malformed', async () => {
    const req = await signRequest({ path: '/' });
    const { 'x-amz-date': _, ...withoutDate } = req.headers;
    fails(
      { ...req, headers: withoutDate },
      'InvalidSignatureException',
      /requires existence of a 'X-Amz-Date'/,
    );
    for (const date of ['20260101T002000', '20260230T002000Z', '2026-01-01T00:20:00Z']) {
      fails(
        { ...req, headers: { ...req.headers, 'x-amz-date': date } },
        'InvalidSignatureException',
        /basic format/,
      );
    }
  });

  test('body that does not match x-amz-content-sha256', async () => {
    const req = await signRequest({ method: 'POST', path: '/things/t', body: '{"a":1}' });
    fails(
      { ...req, bodySha256: sha256Hex('{"a":2}') },
      'InvalidSignatureException',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  });

  test('without x-amz-content-sha256 the received body is what is signed', async () => {
    const req = await signRequest({ method: 'POST', path: '/t', body: 'abc' });
    const { 'x-amz-content-sha256': declared, ...headers } = req.headers;
    assert.equal(declared, sha256Hex('abc'));
    // x-amz-content-sha256 was signed, so removing it breaks the signature rather than the body check.
    fails({ ...req, headers }, 'InvalidSignatureException', MISMATCH);
  });

  test('host header must match what was signed', async () => {
    const req = await signRequest({ path: '/' });
    assert.equal(req.headers.host, HOST);
    fails({ ...req, headers: { ...req.headers, host: 'evil.test' } }, 'InvalidSignatureException', MISMATCH);
  });
});

test('many scopes in a row still verify (signing-key cache eviction)', async () => {
  const regions = Array.from({ length: 80 }, (_, i) => `test-region-${i}`);
  const signed = await Promise.all(regions.map((region) => signRequest({ path: '/' }, { region })));
  for (const round of [1, 2]) {
    for (const [i, req] of signed.entries()) {
      assert.equal(verifySigV4(req, options()).region, regions[i], `round ${round}`);
    }
  }
});
