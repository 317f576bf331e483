import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREDENTIALS,
  FIVE_MINUTES,
  fails,
  MISMATCH,
  NOW,
  options,
  presignRequest,
  signRequest,
} from './sigv4-test-support.js';
import { verifySigV4 } from './verify-sigv4.js';

describe('presigned URLs', () => {
  const presign = (expiresIn = 300) =>
    presignRequest({ path: '/things/a%3Ab', query: { k: 'v w' } }, { expiresIn });

  test('verify, and the signature is not part of the canonical query', async () => {
    const req = await presign();
    assert.match(req.rawQuery, /X-Amz-Signature=[0-9a-f]{64}/);
    assert.equal(req.headers.authorization, undefined);
    assert.equal(verifySigV4(req, options()).accessKeyId, CREDENTIALS.accessKeyId);
    fails(
      { ...req, rawQuery: req.rawQuery.replace('k=v%20w', 'k=v%20x') },
      'InvalidSignatureException',
      MISMATCH,
    );
  });

  test('expire after X-Amz-Expires seconds, to the millisecond', async () => {
    const req = await presign(300);
    verifySigV4(req, options({ now: NOW + 300_000 }));
    fails(
      req,
      'InvalidSignatureException',
      /^Request has expired: signed at 20260101T002000Z for 300 seconds/,
      {
        ...options(),
        now: NOW + 300_001,
      },
    );
  });

  test('are not yet valid beyond the clock skew', async () => {
    const req = await presign();
    verifySigV4(req, options({ now: NOW - FIVE_MINUTES }));
    fails(
      req,
      'InvalidSignatureException',
      /^Signature not yet current/,
      options({ now: NOW - FIVE_MINUTES - 1000 }),
    );
  });

  test('X-Amz-Expires must be 1..604800', async () => {
    const req = await presign(604_800);
    verifySigV4(req, options());
    for (const bad of ['0', '604801', '-1', 'abc', '1e3']) {
      const rawQuery = req.rawQuery.replace('X-Amz-Expires=604800', `X-Amz-Expires=${bad}`);
      fails(
        { ...req, rawQuery },
        'InvalidSignatureException',
        /^X-Amz-Expires must be between 1 and 604800 seconds/,
      );
    }
  });

  test('name the missing parameter', async () => {
    const req = await presign();
    fails(
      { ...req, rawQuery: req.rawQuery.replace(/&?X-Amz-SignedHeaders=[^&]*/, '') },
      'InvalidSignatureException',
      /missing X-Amz-SignedHeaders\.$/,
    );
  });

  test('cannot be combined with an Authorization header', async () => {
    const [presigned, signed] = await Promise.all([presign(), signRequest({ path: '/' })]);
    fails(
      { ...presigned, headers: { ...presigned.headers, authorization: signed.headers.authorization } },
      'InvalidSignatureException',
      /^Only one auth mechanism allowed/,
    );
  });
});

describe('clock skew (header auth)', () => {
  test('boundaries are inclusive, and the message is AWS-shaped', async () => {
    const req = await signRequest({ path: '/' });
    verifySigV4(req, options({ now: NOW + FIVE_MINUTES }));
    verifySigV4(req, options({ now: NOW - FIVE_MINUTES }));
    fails(
      req,
      'InvalidSignatureException',
      'Signature expired: 20260101T002000Z is now earlier than 20260101T002000Z (20260101T002500Z - 5 min.)',
      options({ now: NOW + FIVE_MINUTES + 1 }),
    );
    fails(
      req,
      'InvalidSignatureException',
      'Signature not yet current: 20260101T002000Z is still later than 20260101T001959Z (20260101T001459Z + 5 min.)',
      options({ now: NOW - FIVE_MINUTES - 1 }),
    );
  });

  test('brief example: signed 00:00, now 00:20, 5 min. skew', async () => {
    const req = await signRequest({ path: '/' }, { signingDate: new Date(Date.UTC(2026, 0, 1)) });
    fails(
      req,
      'InvalidSignatureException',
      'Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z (20260101T002000Z - 5 min.)',
    );
  });
});
