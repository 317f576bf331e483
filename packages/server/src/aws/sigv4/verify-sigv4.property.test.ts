/**
 * Mutation property: any change to a signed component of an SDK-signed request makes verification
 * fail; adding or changing headers that were not signed does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OtterError } from '@otter/core';
import fc from 'fast-check';
import {
  escapeUri,
  options,
  presignRequest,
  sha256Hex,
  signRequest,
  type TestRequest,
} from './sigv4-test-support.js';
import { type SignedRequest, type SigV4Options, verifySigV4 } from './verify-sigv4.js';

type Mutation = (req: SignedRequest, presigned: boolean) => [SignedRequest, SigV4Options?];

const withHeader = (req: SignedRequest, name: string, value: string): SignedRequest => ({
  ...req,
  headers: { ...req.headers, [name]: value },
});

const MUTATIONS: Record<string, Mutation> = {
  method: (req) => [{ ...req, method: req.method === 'GET' ? 'PUT' : 'GET' }],
  'path segment added': (req) => [
    { ...req, rawPath: `${req.rawPath}${req.rawPath.endsWith('/') ? '' : '/'}m` },
  ],
  'path character changed': (req) => [{ ...req, rawPath: req.rawPath.replace(/^\/[^/]?/, '/%7E') }],
  'query parameter added': (req) => [
    { ...req, rawQuery: req.rawQuery === '' ? 'm=1' : `${req.rawQuery}&m=1` },
  ],
  'first query value changed': (req) => [
    { ...req, rawQuery: req.rawQuery === '' ? 'm' : `x${req.rawQuery}` },
  ],
  'signed header value': (req) => [
    withHeader(req, 'x-otter-signed', `${String(req.headers['x-otter-signed'])}x`),
  ],
  host: (req) => [withHeader(req, 'host', 'other.otter.test:8443')],
  'body hash': (req) => [{ ...req, bodySha256: sha256Hex(`other${req.bodySha256}`) }],
  'declared and actual body hash together': (req) => {
    const bodySha256 = sha256Hex(`other${req.bodySha256}`);
    return [{ ...withHeader(req, 'x-amz-content-sha256', bodySha256), bodySha256 }];
  },
  'date by one second': (req, presigned) => [
    presigned
      ? {
          ...req,
          rawQuery: req.rawQuery.replace('X-Amz-Date=20260101T002000Z', 'X-Amz-Date=20260101T002001Z'),
        }
      : withHeader(req, 'x-amz-date', '20260101T002001Z'),
  ],
  'region in the credential scope': (req, presigned) => [
    presigned
      ? { ...req, rawQuery: req.rawQuery.replace('%2Fus-east-1%2F', '%2Fus-east-2%2F') }
      : withHeader(
          req,
          'authorization',
          String(req.headers.authorization).replace('/us-east-1/', '/us-east-2/'),
        ),
  ],
  secret: (req) => [req, options({ lookupSecret: () => 'another secret' })],
  'signature digit': (req, presigned) => {
    const flip = (hex: string) => hex.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    return [
      presigned
        ? { ...req, rawQuery: req.rawQuery.replace(/(X-Amz-Signature=[0-9a-f]{64})/, (s) => flip(s)) }
        : withHeader(req, 'authorization', flip(String(req.headers.authorization))),
    ];
  },
};

const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
const headerValue = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 });
const queryName = text(6).filter((name) => !name.toLowerCase().startsWith('x-amz-') && name !== '__proto__');

const requestArb: fc.Arbitrary<TestRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
  path: fc.array(text(8).map(escapeUri), { maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
  query: fc.dictionary(queryName, fc.oneof(text(8), fc.array(text(6), { minLength: 1, maxLength: 3 })), {
    maxKeys: 4,
  }),
  headers: fc.record({ 'x-otter-signed': headerValue }),
  body: text(40),
});

test('mutating any signed component fails verification; unsigned headers do not matter', async () => {
  await fc.assert(
    fc.asyncProperty(
      requestArb,
      fc.boolean(),
      headerValue,
      fc.boolean(),
      async (input, presigned, unsignedValue, unsignedPayload) => {
        const req = presigned ? await presignRequest(input) : await signRequest(input, { unsignedPayload });
        verifySigV4(req, options());
        verifySigV4(
          withHeader(withHeader(req, 'x-unsigned-extra', unsignedValue), 'user-agent', unsignedValue),
          options(),
        );

        for (const [name, mutate] of Object.entries(MUTATIONS)) {
          // An unsigned payload is, by design, not bound to the body.
          if (name === 'body hash' && unsignedPayload && !presigned) continue;
          const [mutated, opts = options()] = mutate(req, presigned);
          assert.throws(
            () => verifySigV4(mutated, opts),
            (error: unknown) => error instanceof OtterError && error.type === 'InvalidSignatureException',
            `mutation "${name}" was accepted: ${JSON.stringify(mutated)}`,
          );
        }
      },
    ),
    { numRuns: 150 },
  );
});
