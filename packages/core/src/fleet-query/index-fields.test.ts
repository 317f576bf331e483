import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indexFields } from './index-fields.js';

describe('indexFields', () => {
  it('flattens registry data, shadows and connectivity', () => {
    const rows = indexFields({
      thingName: 'pump-7',
      thingId: 'uuid-7',
      thingTypeName: 'Pump',
      thingGroupNames: ['plant-1', 'plant-2'],
      attributes: { pressure: '3.5', unit: 'bar', serial: '007' },
      shadow: {
        reported: {
          rpm: 1450,
          on: true,
          nested: { a: { b: 'x' } },
          tags: ['p', 2, false, null, { k: 'v' }],
          gone: null,
        },
        desired: { rpm: 1500 },
        hasDelta: true,
        version: 12,
      },
      namedShadows: { $package: { reported: { samplePackage: { version: '2.1.5' } } } },
      connectivity: { connected: false, timestamp: 1700000000000, disconnectReason: 'CONNECTION_LOST' },
    });
    assert.deepEqual(rows, [
      { field: 'thingName', text: 'pump-7', num: null },
      { field: 'thingId', text: 'uuid-7', num: null },
      { field: 'thingTypeName', text: 'Pump', num: null },
      { field: 'thingGroupNames', text: 'plant-1', num: null },
      { field: 'thingGroupNames', text: 'plant-2', num: null },
      { field: 'attributes.pressure', text: '3.5', num: 3.5 },
      { field: 'attributes.unit', text: 'bar', num: null },
      { field: 'attributes.serial', text: '007', num: 7 },
      { field: 'shadow.reported.rpm', text: '1450', num: 1450 },
      { field: 'shadow.reported.on', text: 'true', num: null },
      { field: 'shadow.reported.nested.a.b', text: 'x', num: null },
      { field: 'shadow.reported.tags', text: 'p', num: null },
      { field: 'shadow.reported.tags', text: '2', num: 2 },
      { field: 'shadow.reported.tags', text: 'false', num: null },
      { field: 'shadow.reported.tags.k', text: 'v', num: null },
      { field: 'shadow.desired.rpm', text: '1500', num: 1500 },
      { field: 'shadow.hasDelta', text: 'true', num: null },
      { field: 'shadow.version', text: '12', num: 12 },
      { field: 'shadow.name.$package.reported.samplePackage.version', text: '2.1.5', num: null },
      { field: 'connectivity.connected', text: 'false', num: null },
      { field: 'connectivity.timestamp', text: '1700000000000', num: 1700000000000 },
      { field: 'connectivity.disconnectReason', text: 'CONNECTION_LOST', num: null },
    ]);
  });

  it('gives numbers canonical text and strings a number only when they spell a finite decimal', () => {
    const rows = indexFields({
      thingName: 't',
      thingId: 'i',
      thingGroupNames: [],
      attributes: { a: '1e3', b: '-0', c: '0x10', d: '1e999', e: ' 5', f: '.5', g: 'Infinity' },
      shadow: { reported: { big: 1e21, small: 1e-7, neg: -0 } },
      namedShadows: {},
    });
    const byField = Object.fromEntries(rows.map((r) => [r.field, [r.text, r.num]]));
    assert.deepEqual(byField, {
      thingName: ['t', null],
      thingId: ['i', null],
      'attributes.a': ['1e3', 1000],
      'attributes.b': ['-0', 0],
      'attributes.c': ['0x10', null],
      'attributes.d': ['1e999', null],
      'attributes.e': [' 5', null],
      'attributes.f': ['.5', 0.5],
      'attributes.g': ['Infinity', null],
      'shadow.reported.big': ['1e+21', 1e21],
      'shadow.reported.small': ['1e-7', 1e-7],
      'shadow.reported.neg': ['0', 0],
    });
    assert.ok(Object.is(byField['attributes.b']?.[1], 0), 'no -0');
  });

  it('gives a bare thing only its name and id', () => {
    const rows = indexFields({
      thingName: 'x',
      thingId: 'y',
      thingGroupNames: [],
      attributes: {},
      namedShadows: {},
    });
    assert.deepEqual(
      rows.map((r) => r.field),
      ['thingName', 'thingId'],
    );
  });
});
