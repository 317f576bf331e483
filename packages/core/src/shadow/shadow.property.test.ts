import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyShadowUpdate } from './apply-shadow-update.js';
import { computeDelta } from './compute-delta.js';
import { cloneJson, isJsonObject, isPlainObject, type JsonObject, type JsonValue } from './json.js';
import type { ShadowState } from './shadow-state.js';

const key = fc.constantFrom('a', 'b', 'c', 'color', 'timestamp');
const leaf = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.boolean(),
  fc.constantFrom('x', 'y', ''),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const dict = <T>(value: fc.Arbitrary<T>) => fc.dictionary(key, value, { maxKeys: 4, noNullPrototype: true });

/** Values with at most `levels` more nested objects/arrays; nulls (outside arrays) when `nulls`. */
function jsonValue(levels: number, nulls: boolean): fc.Arbitrary<JsonValue> {
  const scalar = nulls ? fc.oneof(leaf, fc.constant(null)) : leaf;
  if (levels === 0) return scalar;
  return fc.oneof(
    { arbitrary: scalar, weight: 3 },
    { arbitrary: fc.array(jsonValue(levels - 1, false), { maxLength: 3 }), weight: 1 },
    { arbitrary: dict(jsonValue(levels - 1, nulls)), weight: 1 },
  );
}
// A section is level 2 of the 6 allowed (state = 1), so its values may nest 4 more levels.
const value = jsonValue(4, false);
const patchValue = jsonValue(4, true);
const section: fc.Arbitrary<JsonObject> = dict(value);
const patchSection: fc.Arbitrary<JsonObject | null> = fc.oneof(fc.constant(null), dict(patchValue));
const request = fc
  .record({ desired: patchSection, reported: patchSection }, { requiredKeys: [], noNullPrototype: true })
  .map((state) => ({ state }));
const history = fc.array(request, { minLength: 1, maxLength: 5 });

const T0 = Date.UTC(2026, 0, 1);

function replay(bodies: unknown[]): ShadowState | undefined {
  let shadow: ShadowState | undefined;
  bodies.forEach((body, i) => {
    shadow = applyShadowUpdate(shadow, body, T0 + i * 1000).next;
  });
  return shadow;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Metadata has exactly the shape of the state: `{timestamp}` per leaf, arrays element-wise. */
function mirrors(state: JsonValue, meta: unknown): boolean {
  if (Array.isArray(state)) {
    return Array.isArray(meta) && meta.length === state.length && state.every((s, i) => mirrors(s, meta[i]));
  }
  if (isJsonObject(state)) {
    if (!isPlainObject(meta)) return false;
    const keys = Object.keys(state);
    return (
      keys.length === Object.keys(meta).length && keys.every((k) => mirrors(state[k] as JsonValue, meta[k]))
    );
  }
  return isPlainObject(meta) && Object.keys(meta).length === 1 && typeof meta.timestamp === 'number';
}

/** Whether `big` holds every field of `small` with an equal value (objects compared recursively). */
function covers(big: JsonObject, small: JsonObject): JsonObject {
  const out = cloneJson(big);
  for (const [k, v] of Object.entries(small)) {
    const b = out[k];
    out[k] = isJsonObject(v) && isJsonObject(b) ? covers(b, v) : cloneJson(v);
  }
  return out;
}

describe('shadow properties', () => {
  it('computeDelta(d, r) is empty whenever r contains d', () => {
    fc.assert(
      fc.property(section, section, (d, extra) => {
        assert.deepEqual(computeDelta(d, covers(extra, d)), {});
        assert.deepEqual(computeDelta(d, d), {});
      }),
    );
  });

  it('computeDelta(d, r) lists only desired fields, and every desired field when r is empty', () => {
    fc.assert(
      fc.property(section, section, (d, r) => {
        const delta = computeDelta(d, r);
        for (const k of Object.keys(delta)) assert.ok(Object.hasOwn(d, k));
        assert.deepEqual(computeDelta(d, {}), d);
        // reporting the delta resolves it
        assert.deepEqual(computeDelta(d, covers(r, delta)), {});
      }),
    );
  });

  it('never mutates its inputs', () => {
    fc.assert(
      fc.property(
        history,
        request,
        fc.option(fc.nat({ max: 6 }), { nil: undefined }),
        (past, body, version) => {
          const current = replay(past);
          const req = version === undefined ? body : { ...body, version };
          const before = cloneJson({ current, req });
          deepFreeze(current);
          deepFreeze(req);
          try {
            applyShadowUpdate(current, req, T0 + 10_000);
          } catch {
            // rejections are fine; mutation would have thrown a TypeError on the frozen inputs
          }
          assert.deepEqual({ current, req }, before);
        },
      ),
    );
  });

  it('bumps the version by one and keeps metadata in the shape of the state', () => {
    fc.assert(
      fc.property(history, request, (past, body) => {
        const current = replay(past);
        const { next, accepted } = applyShadowUpdate(current, body, T0 + 10_000);
        assert.equal(next.version, (current?.version ?? 0) + 1);
        assert.equal(accepted.version, next.version);
        for (const s of ['desired', 'reported'] as const) {
          const state = next.state[s];
          assert.equal(state === undefined, next.metadata[s] === undefined);
          if (state !== undefined) {
            assert.ok(Object.keys(state).length > 0, 'no empty sections are stored');
            assert.ok(mirrors(state, next.metadata[s]), JSON.stringify(next));
          }
        }
      }),
    );
  });

  it('reporting the desired state clears the delta', () => {
    fc.assert(
      fc.property(history, (past) => {
        const current = replay(past);
        const desired = current?.state.desired;
        if (desired === undefined) return;
        const { next, delta } = applyShadowUpdate(current, { state: { reported: desired } }, T0 + 10_000);
        assert.deepEqual(computeDelta(next.state.desired, next.state.reported), {});
        assert.equal(delta, undefined);
      }),
    );
  });
});
