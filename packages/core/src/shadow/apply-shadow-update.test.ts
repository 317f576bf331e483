import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyShadowUpdate } from './apply-shadow-update.js';
import type { ShadowState } from './shadow-state.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0, 750); // 1767225600.75 s
const S0 = 1767225600;
const T1 = T0 + 10_000;
const S1 = S0 + 10;

/** Applies updates in turn from no shadow, one second apart from T0. */
function build(...bodies: unknown[]): ShadowState {
  let shadow: ShadowState | undefined;
  bodies.forEach((body, i) => {
    shadow = applyShadowUpdate(shadow, body, T0 + i * 1000).next;
  });
  if (!shadow) throw new Error('no updates');
  return shadow;
}

describe('applyShadowUpdate: creating and versioning', () => {
  it('creates a shadow at version 1 with second timestamps on every leaf', () => {
    const { next, accepted } = applyShadowUpdate(
      undefined,
      { state: { reported: { temp: 21, on: true } } },
      T0,
    );
    assert.deepEqual(next, {
      state: { reported: { temp: 21, on: true } },
      metadata: { reported: { temp: { timestamp: S0 }, on: { timestamp: S0 } } },
      version: 1,
      timestamp: S0,
    });
    assert.deepEqual(accepted, {
      state: { reported: { temp: 21, on: true } },
      metadata: { reported: { temp: { timestamp: S0 }, on: { timestamp: S0 } } },
      version: 1,
      timestamp: S0,
    });
  });

  it('bumps the version by one per update, an empty state included', () => {
    const v1 = applyShadowUpdate(undefined, { state: { desired: { a: 1 } } }, T0).next;
    const v2 = applyShadowUpdate(v1, { state: { desired: { a: 2 } } }, T1).next;
    const v3 = applyShadowUpdate(v2, { state: {} }, T1).next;
    assert.deepEqual([v1.version, v2.version, v3.version], [1, 2, 3]);
    assert.deepEqual(v3.state, { desired: { a: 2 } });
    assert.deepEqual(v3.metadata, v2.metadata);
  });

  it('processes the update only when a given version matches the stored one', () => {
    const v1 = build({ state: { desired: { colors: ['RED', 'GREEN', 'BLUE'] } } });
    assert.throws(() => applyShadowUpdate(v1, { state: { desired: { colors: ['BLUE'] } }, version: 0 }, T1), {
      name: 'ConflictException',
      message: 'Version conflict',
      status: 409,
    });
    assert.throws(() => applyShadowUpdate(v1, { state: {}, version: 2 }, T1), { name: 'ConflictException' });
    const { next } = applyShadowUpdate(v1, { state: { desired: { colors: ['BLUE'] } }, version: 1 }, T1);
    assert.equal(next.version, 2);
    assert.deepEqual(next.state.desired, { colors: ['BLUE'] });
  });

  it('takes version 0 for a shadow that does not exist', () => {
    assert.equal(applyShadowUpdate(undefined, { state: {}, version: 0 }, T0).next.version, 1);
    assert.throws(() => applyShadowUpdate(undefined, { state: {}, version: 1 }, T0), {
      name: 'ConflictException',
    });
  });

  it('continues the version of a deleted shadow of the same name', () => {
    const { next } = applyShadowUpdate(undefined, { state: { reported: { a: 1 } } }, T0, {
      deletedVersion: 7,
    });
    assert.equal(next.version, 8);
    assert.throws(() => applyShadowUpdate(undefined, { state: {}, version: 0 }, T0, { deletedVersion: 7 }), {
      name: 'ConflictException',
    });
    assert.equal(
      applyShadowUpdate(undefined, { state: {}, version: 7 }, T0, { deletedVersion: 7 }).next.version,
      8,
    );
  });
});

describe('applyShadowUpdate: merging', () => {
  it('touches only the fields given and keeps the timestamps of the others', () => {
    const v1 = build({ state: { desired: { color: { r: 10, g: 0 }, engine: 'ON' } } });
    const { next, accepted } = applyShadowUpdate(v1, { state: { desired: { color: { g: 255 } } } }, T1);
    assert.deepEqual(next.state, { desired: { color: { r: 10, g: 255 }, engine: 'ON' } });
    assert.deepEqual(next.metadata, {
      desired: { color: { r: { timestamp: S0 }, g: { timestamp: S1 } }, engine: { timestamp: S0 } },
    });
    assert.deepEqual(accepted.metadata, { desired: { color: { g: { timestamp: S1 } } } });
  });

  it('deletes fields set to null, and echoes the nulls with their metadata', () => {
    const v1 = build({ state: { desired: { engine: 'ON', color: 'red' } } });
    const { next, accepted } = applyShadowUpdate(v1, { state: { desired: { engine: null } } }, T1);
    assert.deepEqual(next.state, { desired: { color: 'red' } });
    assert.deepEqual(next.metadata, { desired: { color: { timestamp: S0 } } });
    assert.deepEqual(accepted.state, { desired: { engine: null } });
    assert.deepEqual(accepted.metadata, { desired: { engine: { timestamp: S1 } } });
  });

  it('removes a section set to null, or left empty', () => {
    const v1 = build({ state: { desired: { a: 1 }, reported: { b: 2 } } });
    const cleared = applyShadowUpdate(v1, { state: { reported: { color: 'red' }, desired: null } }, T1);
    assert.deepEqual(cleared.next.state, { reported: { b: 2, color: 'red' } });
    assert.deepEqual(Object.keys(cleared.next.metadata), ['reported']);
    assert.deepEqual(cleared.accepted.metadata, {
      reported: { color: { timestamp: S1 } },
      desired: { timestamp: S1 },
    });
    const emptied = applyShadowUpdate(v1, { state: { desired: { a: null } } }, T1).next;
    assert.deepEqual(emptied.state, { reported: { b: 2 } });
    assert.deepEqual(emptied.metadata, { reported: { b: { timestamp: S0 } } });
  });

  it('empties the shadow on "state": null without deleting it', () => {
    const v1 = build({ state: { desired: { a: 1 }, reported: { b: 2 } } });
    const { next, accepted } = applyShadowUpdate(v1, { state: null, clientToken: 'c' }, T1);
    assert.deepEqual(next, { state: {}, metadata: {}, version: 2, timestamp: S1 });
    assert.deepEqual(accepted, {
      state: null,
      metadata: { timestamp: S1 },
      version: 2,
      timestamp: S1,
      clientToken: 'c',
    });
  });

  it('drops objects left empty and never stores an empty object', () => {
    const v1 = build({ state: { reported: { a: { b: 1 }, c: 1 } } });
    assert.deepEqual(applyShadowUpdate(v1, { state: { reported: { a: { b: null } } } }, T1).next.state, {
      reported: { c: 1 },
    });
    assert.deepEqual(
      applyShadowUpdate(v1, { state: { reported: { x: {}, y: { z: null } } } }, T1).next.state,
      {
        reported: { a: { b: 1 }, c: 1 },
      },
    );
    assert.deepEqual(applyShadowUpdate(v1, { state: { reported: { a: {} } } }, T1).next.state, v1.state);
  });

  it('lets an object replace a value and a value replace an object', () => {
    const v1 = build({ state: { reported: { a: 5, b: { x: 1 } } } });
    const { next } = applyShadowUpdate(v1, { state: { reported: { a: { y: 2, n: null }, b: 'flat' } } }, T1);
    assert.deepEqual(next.state, { reported: { a: { y: 2 }, b: 'flat' } });
    assert.deepEqual(next.metadata, { reported: { a: { y: { timestamp: S1 } }, b: { timestamp: S1 } } });
  });

  it('replaces arrays whole, with one metadata entry per element', () => {
    const v1 = build({ state: { desired: { colors: ['RED', 'GREEN', 'BLUE'] } } });
    const { next } = applyShadowUpdate(
      v1,
      { state: { desired: { colors: ['RED'], modes: [{ m: 1 }, [2]] } } },
      T1,
    );
    assert.deepEqual(next.state, { desired: { colors: ['RED'], modes: [{ m: 1 }, [2]] } });
    assert.deepEqual(next.metadata, {
      desired: { colors: [{ timestamp: S1 }], modes: [{ m: { timestamp: S1 } }, [{ timestamp: S1 }]] },
    });
    assert.deepEqual(applyShadowUpdate(v1, { state: { desired: { colors: [] } } }, T1).next.metadata, {
      desired: { colors: [] },
    });
  });

  it('treats __proto__ as an ordinary field name', () => {
    const body = JSON.parse('{"state":{"reported":{"__proto__":{"polluted":1},"a":1}}}') as unknown;
    const { next } = applyShadowUpdate(undefined, body, T0);
    assert.equal(Object.getPrototypeOf(next.state.reported), Object.prototype);
    assert.deepEqual(Object.keys(next.state.reported ?? {}), ['__proto__', 'a']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const v2 = applyShadowUpdate(next, JSON.parse('{"state":{"reported":{"__proto__":null}}}'), T1).next;
    assert.deepEqual(v2.state, { reported: { a: 1 } });
  });
});

describe('applyShadowUpdate: documents and delta messages', () => {
  it('publishes documents with previous (null on creation) and current', () => {
    const first = applyShadowUpdate(undefined, { state: { reported: { a: 1 } } }, T0);
    assert.equal(first.documents.previous, null);
    assert.deepEqual(first.documents.current, {
      state: { reported: { a: 1 } },
      metadata: { reported: { a: { timestamp: S0 } } },
      version: 1,
    });
    const second = applyShadowUpdate(first.next, { state: { reported: { a: 2 } }, clientToken: 'tok' }, T1);
    assert.deepEqual(second.documents, {
      previous: first.documents.current,
      current: {
        state: { reported: { a: 2 } },
        metadata: { reported: { a: { timestamp: S1 } } },
        version: 2,
      },
      timestamp: S1,
      clientToken: 'tok',
    });
  });

  it('publishes the whole delta, with desired metadata, when the request sets a differing desired field', () => {
    const v1 = build({ state: { reported: { color: 'GREEN', engine: 'ON' }, desired: { state: 'STOP' } } });
    const { delta, accepted } = applyShadowUpdate(
      v1,
      { state: { desired: { color: 'RED' } }, clientToken: 'k' },
      T1,
    );
    assert.deepEqual(delta, {
      state: { state: 'STOP', color: 'RED' },
      metadata: { state: { timestamp: S0 }, color: { timestamp: S1 } },
      version: 2,
      timestamp: S1,
      clientToken: 'k',
    });
    assert.equal(accepted.clientToken, 'k');
  });

  it('publishes no delta for reported-only updates or desired values equal to reported', () => {
    const v1 = build({ state: { desired: { a: 1, b: 2 } } });
    assert.equal(applyShadowUpdate(v1, { state: { reported: { a: 0 } } }, T1).delta, undefined);
    const v2 = build({ state: { desired: { a: 1, b: 2 } } }, { state: { reported: { a: 1 } } });
    assert.equal(applyShadowUpdate(v2, { state: { desired: { a: 1 } } }, T1).delta, undefined);
    assert.equal(applyShadowUpdate(v2, { state: { desired: { b: null } } }, T1).delta, undefined);
    assert.deepEqual(applyShadowUpdate(v2, { state: { desired: { b: 3 } } }, T1).delta?.state, { b: 3 });
  });

  it('gives nested deltas down to the differing leaves', () => {
    const v1 = build({ state: { reported: { lights: { color: { r: 255, g: 0, b: 255 } } } } });
    const { delta } = applyShadowUpdate(
      v1,
      { state: { desired: { lights: { color: { r: 255, g: 255, b: 255 } } } } },
      T1,
    );
    assert.deepEqual(delta?.state, { lights: { color: { g: 255 } } });
    assert.deepEqual(delta?.metadata, { lights: { color: { g: { timestamp: S1 } } } });
  });
});

describe('applyShadowUpdate: limits', () => {
  const blob = (bytes: number) => 'x'.repeat(bytes);
  // {"s":"…"} is 8 bytes plus the string
  it('accepts 8192 bytes of desired + reported and rejects one more', () => {
    assert.doesNotThrow(() => applyShadowUpdate(undefined, { state: { desired: { s: blob(8184) } } }, T0));
    assert.throws(() => applyShadowUpdate(undefined, { state: { desired: { s: blob(8185) } } }, T0), {
      name: 'RequestEntityTooLargeException',
      message: 'The payload exceeds the maximum size allowed',
      status: 413,
    });
  });

  it('counts the stored document, not just the request, and not metadata', () => {
    const v1 = build({ state: { desired: { s: blob(4092) } } }); // 4100 bytes
    assert.doesNotThrow(() => applyShadowUpdate(v1, { state: { reported: { s: blob(4084) } } }, T1)); // 8192
    assert.throws(() => applyShadowUpdate(v1, { state: { reported: { s: blob(4085) } } }, T1), {
      name: 'RequestEntityTooLargeException',
    });
    // shrinking a too-large request is not enough: its own sections count too
    assert.throws(() => applyShadowUpdate(v1, { state: { reported: { s: blob(9000), t: null } } }, T1), {
      name: 'RequestEntityTooLargeException',
    });
  });

  it('counts UTF-8 bytes and takes the limit as an option', () => {
    assert.throws(() => applyShadowUpdate(undefined, { state: { desired: { s: 'é'.repeat(4093) } } }, T0), {
      name: 'RequestEntityTooLargeException',
    });
    const opts = { maxDocumentBytes: 20 };
    assert.doesNotThrow(() =>
      applyShadowUpdate(undefined, { state: { desired: { s: blob(12) } } }, T0, opts),
    );
    assert.throws(() => applyShadowUpdate(undefined, { state: { desired: { s: blob(13) } } }, T0, opts), {
      name: 'RequestEntityTooLargeException',
    });
  });

  it('rejects bad requests before touching the shadow', () => {
    const v1 = build({ state: { desired: { a: 1 } } });
    assert.throws(() => applyShadowUpdate(v1, '{"state":', T1), {
      name: 'InvalidRequestException',
      message: 'Invalid JSON',
    });
    assert.throws(() => applyShadowUpdate(v1, { state: { delta: {} } }, T1), {
      message: "State contains an invalid node: 'delta'",
    });
    assert.throws(
      () => applyShadowUpdate(v1, { state: { desired: { a: { b: { c: { d: { e: { f: 1 } } } } } } } }, T1),
      {
        message: 'JSON contains too many levels of nesting; maximum is 6',
      },
    );
    assert.throws(
      () => applyShadowUpdate(v1, { state: { desired: { a: {} } } }, T1, { maxDepth: 2 }),
      /maximum is 2/,
    );
  });
});
