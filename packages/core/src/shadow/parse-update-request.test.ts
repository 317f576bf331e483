import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientTokenOf, parseShadowUpdateRequest } from './parse-update-request.js';

const bad = (body: unknown, message: string | RegExp, name = 'InvalidRequestException') =>
  assert.throws(() => parseShadowUpdateRequest(body), { name, message });

/** `{ state: { desired: nest(n) } }` puts n objects below `desired`. */
const nest = (n: number): Record<string, unknown> => (n === 0 ? { leaf: 1 } : { k: nest(n - 1) });

describe('parseShadowUpdateRequest', () => {
  it('accepts a request state document with clientToken and version', () => {
    const body = { state: { desired: { color: 'red' }, reported: null }, clientToken: 't-1', version: 3 };
    assert.deepEqual(parseShadowUpdateRequest(body), {
      state: { desired: { color: 'red' }, reported: null },
      clientToken: 't-1',
      version: 3,
    });
  });

  it('parses JSON text and UTF-8 bytes', () => {
    const text = '{"state":{"reported":{"temp":21.5,"name":"fóo"}}}';
    const expected = { state: { reported: { temp: 21.5, name: 'fóo' } } };
    assert.deepEqual(parseShadowUpdateRequest(text), expected);
    assert.deepEqual(parseShadowUpdateRequest(new TextEncoder().encode(text)), expected);
  });

  it('rejects bytes that are not UTF-8 with UnsupportedDocumentEncodingException', () => {
    bad(
      new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      'Unsupported documented encoding; supported encoding is UTF-8',
      'UnsupportedDocumentEncodingException',
    );
  });

  it('rejects what is not a JSON object with "Invalid JSON"', () => {
    for (const body of ['{"state":', '', 'null', '[1]', '"s"', 42, null, [], undefined, new Date(0)]) {
      bad(body, 'Invalid JSON');
    }
  });

  it('requires state and wants an object or null there', () => {
    bad({ desired: { a: 1 } }, 'Missing required node: state');
    for (const state of ['x', 1, true, [{ desired: {} }]]) bad({ state }, 'State node must be an object');
    assert.deepEqual(parseShadowUpdateRequest({ state: null }), { state: null });
  });

  it('allows only desired and reported inside state, naming the intruder', () => {
    bad({ state: { delta: { a: 1 } } }, "State contains an invalid node: 'delta'");
    bad({ state: { desired: {}, metadata: {} } }, "State contains an invalid node: 'metadata'");
    bad(JSON.parse('{"state":{"__proto__":{"a":1}}}'), "State contains an invalid node: '__proto__'");
  });

  it('wants desired and reported to be objects or null', () => {
    for (const v of [1, 'x', [1], true]) {
      bad({ state: { desired: v } }, 'Desired node must be an object');
      bad({ state: { reported: v } }, 'Reported node must be an object');
    }
  });

  it('accepts an empty state and ignores unknown top-level fields', () => {
    assert.deepEqual(parseShadowUpdateRequest({ state: {} }), { state: {} });
    assert.deepEqual(parseShadowUpdateRequest({ state: {}, metadata: { x: 1 }, timestamp: 5 }), {
      state: {},
    });
  });

  it('validates version: a non-negative integer', () => {
    for (const version of ['1', -1, 1.5, null, Number.NaN, 2 ** 60, {}])
      bad({ state: {}, version }, 'Invalid version');
    assert.equal(parseShadowUpdateRequest({ state: {}, version: 0 }).version, 0);
  });

  it('validates clientToken: a string of at most 64 UTF-8 bytes', () => {
    assert.equal(
      parseShadowUpdateRequest({ state: {}, clientToken: 'x'.repeat(64) }).clientToken,
      'x'.repeat(64),
    );
    for (const clientToken of ['x'.repeat(65), 'é'.repeat(33), 5, null, ['t']]) {
      bad({ state: {}, clientToken }, 'Invalid clientToken');
    }
    assert.doesNotThrow(() => parseShadowUpdateRequest({ state: {}, clientToken: 'é'.repeat(32) }));
  });

  it('allows 6 levels of nesting counting state as 1, and rejects 7', () => {
    // state(1) > desired(2) > k(3) > k(4) > k(5) > k(6) holding a leaf
    assert.doesNotThrow(() => parseShadowUpdateRequest({ state: { desired: nest(4) } }));
    bad({ state: { desired: nest(5) } }, 'JSON contains too many levels of nesting; maximum is 6');
    // arrays count as a level too
    assert.doesNotThrow(() => parseShadowUpdateRequest({ state: { reported: { a: { b: { c: [[1]] } } } } }));
    bad(
      { state: { reported: { a: { b: { c: [[[1]]] } } } } },
      'JSON contains too many levels of nesting; maximum is 6',
    );
    // the limit is a parameter
    assert.throws(() => parseShadowUpdateRequest({ state: { desired: { a: {} } } }, 2), /maximum is 2/);
  });

  it('rejects null inside arrays, naming the field', () => {
    bad(
      { state: { desired: { colors: [null, 'RED'] } } },
      /arrays can't contain null values \(state\.desired\.colors\[0\]\)/,
    );
    bad({ state: { desired: { m: [{ a: null }] } } }, /state\.desired\.m\[0\]\.a/);
  });

  it('rejects values that are not JSON', () => {
    bad({ state: { desired: { a: Number.POSITIVE_INFINITY } } }, /state\.desired\.a is not a JSON number/);
    bad({ state: { desired: { a: undefined } } }, /state\.desired\.a is not a JSON value/);
    bad({ state: { reported: { d: new Date(0) } } }, /state\.reported\.d is not a JSON value/);
    bad({ state: { reported: { f: () => 1 } } }, /is not a JSON value/);
  });
});

describe('clientTokenOf', () => {
  it('finds a valid token in any body form, and nothing otherwise', () => {
    assert.equal(clientTokenOf({ clientToken: 'a' }), 'a');
    assert.equal(clientTokenOf('{"clientToken":"b","state":5}'), 'b');
    assert.equal(clientTokenOf(new TextEncoder().encode('{"clientToken":"c"}')), 'c');
    assert.equal(clientTokenOf('{'), undefined);
    assert.equal(clientTokenOf({ clientToken: 'x'.repeat(65) }), undefined);
    assert.equal(clientTokenOf([1]), undefined);
  });
});
