import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeDelta, deltaMetadata, requestTouchesDelta } from './compute-delta.js';

describe('computeDelta', () => {
  it('takes desired fields that reported lacks or holds differently, never reported-only fields', () => {
    // The Developer Guide's own example (Device Shadow service documents § Delta state).
    const desired = { color: 'RED', state: 'STOP' };
    const reported = { color: 'GREEN', engine: 'ON' };
    assert.deepEqual(computeDelta(desired, reported), { color: 'RED', state: 'STOP' });
  });

  it('gives the path to the root of only the differing nested leaves', () => {
    const desired = { lights: { color: { r: 255, g: 255, b: 255 } } };
    const reported = { lights: { color: { r: 255, g: 0, b: 255 } } };
    assert.deepEqual(computeDelta(desired, reported), { lights: { color: { g: 255 } } });
  });

  it('compares arrays whole and copies the whole desired array when they differ', () => {
    assert.deepEqual(computeDelta({ colors: ['RED', 'GREEN'] }, { colors: ['RED'] }), {
      colors: ['RED', 'GREEN'],
    });
    assert.deepEqual(computeDelta({ colors: ['RED', 'GREEN'] }, { colors: ['RED', 'GREEN'] }), {});
    assert.deepEqual(computeDelta({ m: [{ a: 1 }] }, { m: [{ a: 2 }] }), { m: [{ a: 1 }] });
  });

  it('copies a desired object whole when reported has a value of another type', () => {
    assert.deepEqual(computeDelta({ a: { x: 1 } }, { a: 5 }), { a: { x: 1 } });
    assert.deepEqual(computeDelta({ a: 5 }, { a: { x: 1 } }), { a: 5 });
    assert.deepEqual(computeDelta({ a: [1] }, { a: { 0: 1 } }), { a: [1] });
  });

  it('ignores object key order and distinguishes types', () => {
    assert.deepEqual(computeDelta({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } }), {});
    assert.deepEqual(computeDelta({ a: 1 }, { a: '1' }), { a: 1 });
    assert.deepEqual(computeDelta({ a: false }, { a: 0 }), { a: false });
  });

  it('is everything desired when reported is absent, and empty when desired is', () => {
    assert.deepEqual(computeDelta({ a: 1, b: { c: [2] } }, undefined), { a: 1, b: { c: [2] } });
    assert.deepEqual(computeDelta(undefined, { a: 1 }), {});
  });

  it('does not share structure with its inputs', () => {
    const desired = { a: { b: [1] } };
    const delta = computeDelta(desired, undefined);
    (delta.a as { b: number[] }).b.push(2);
    assert.deepEqual(desired, { a: { b: [1] } });
  });
});

describe('deltaMetadata', () => {
  it('is the desired metadata pruned to the delta', () => {
    const meta = {
      lights: { color: { r: { timestamp: 1 }, g: { timestamp: 2 } } },
      colors: [{ timestamp: 3 }, { timestamp: 3 }],
      other: { timestamp: 4 },
    };
    const delta = { lights: { color: { g: 255 } }, colors: ['a', 'b'] };
    assert.deepEqual(deltaMetadata(delta, meta), {
      lights: { color: { g: { timestamp: 2 } } },
      colors: [{ timestamp: 3 }, { timestamp: 3 }],
    });
  });

  it('keeps a state field named "timestamp" apart from leaf metadata', () => {
    const meta = { timestamp: { timestamp: 9 }, t: { timestamp: { timestamp: 8 } } };
    assert.deepEqual(deltaMetadata({ timestamp: 5, t: { timestamp: 1 } }, meta), meta);
  });
});

describe('requestTouchesDelta', () => {
  it('is true only for fields the request sets (not nulls) that are in the delta', () => {
    const delta = { a: 1, b: { c: 2 } };
    assert.equal(requestTouchesDelta(delta, { a: 1 }), true);
    assert.equal(requestTouchesDelta(delta, { b: { c: 2 } }), true);
    assert.equal(requestTouchesDelta(delta, { b: { d: 2 } }), false);
    assert.equal(requestTouchesDelta(delta, { z: 1 }), false);
    assert.equal(requestTouchesDelta(delta, { a: null }), false);
    assert.equal(requestTouchesDelta(delta, { b: {} }), false);
  });
});
