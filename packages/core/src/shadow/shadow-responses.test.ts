import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import { applyShadowUpdate } from './apply-shadow-update.js';
import { shadowDeleteResponse, shadowGetResponse, shadowRejectedDocument } from './shadow-responses.js';

const T0 = Date.UTC(2026, 0, 1);
const S0 = T0 / 1000;

describe('shadowGetResponse', () => {
  it('returns state with delta, metadata, version and timestamp', () => {
    const v1 = applyShadowUpdate(
      undefined,
      { state: { reported: { color: 'GREEN', engine: 'ON' } } },
      T0,
    ).next;
    const v2 = applyShadowUpdate(v1, { state: { desired: { color: 'RED', state: 'STOP' } } }, T0 + 5000).next;
    assert.deepEqual(shadowGetResponse(v2), {
      state: {
        desired: { color: 'RED', state: 'STOP' },
        reported: { color: 'GREEN', engine: 'ON' },
        delta: { color: 'RED', state: 'STOP' },
      },
      metadata: {
        desired: { color: { timestamp: S0 + 5 }, state: { timestamp: S0 + 5 } },
        reported: { color: { timestamp: S0 }, engine: { timestamp: S0 } },
      },
      version: 2,
      timestamp: S0 + 5,
    });
    assert.equal(shadowGetResponse(v2, T0 + 60_000).timestamp, S0 + 60);
  });

  it('omits delta when reported satisfies desired, and absent sections', () => {
    const v1 = applyShadowUpdate(
      undefined,
      { state: { desired: { a: 1 }, reported: { a: 1, b: 2 } } },
      T0,
    ).next;
    assert.deepEqual(shadowGetResponse(v1).state, { desired: { a: 1 }, reported: { a: 1, b: 2 } });
    const empty = applyShadowUpdate(v1, { state: null }, T0).next;
    assert.deepEqual(shadowGetResponse(empty), { state: {}, metadata: {}, version: 2, timestamp: S0 });
  });

  it('does not share structure with the stored shadow', () => {
    const v1 = applyShadowUpdate(undefined, { state: { desired: { a: [1] } } }, T0).next;
    const got = shadowGetResponse(v1);
    const a = got.state.desired?.a;
    assert.ok(Array.isArray(a));
    a.push(2);
    assert.deepEqual(v1.state.desired, { a: [1] });
  });
});

describe('shadowDeleteResponse', () => {
  it('gives the deleted version and the time of deletion', () => {
    const v1 = applyShadowUpdate(undefined, { state: { desired: { a: 1 } } }, T0).next;
    assert.deepEqual(shadowDeleteResponse(v1, T0 + 3_999), { version: 1, timestamp: S0 + 3 });
  });
});

describe('shadowRejectedDocument', () => {
  it('builds the error response document, echoing a valid clientToken', () => {
    const body = { state: { desired: {} }, version: 9, clientToken: '426bfd96' };
    const v1 = applyShadowUpdate(undefined, { state: {} }, T0).next;
    let error: unknown;
    try {
      applyShadowUpdate(v1, body, T0);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof OtterError);
    assert.deepEqual(shadowRejectedDocument(error, T0, body), {
      code: 409,
      message: 'Version conflict',
      timestamp: S0,
      clientToken: '426bfd96',
    });
    assert.deepEqual(
      shadowRejectedDocument(new OtterError('InvalidRequestException', 'Invalid JSON'), T0, '{'),
      {
        code: 400,
        message: 'Invalid JSON',
        timestamp: S0,
      },
    );
  });
});
