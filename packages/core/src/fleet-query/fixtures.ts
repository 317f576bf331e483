import type { IndexedShadow, IndexedThing } from './index-fields.js';

/**
 * Shared test data: things and queries with the thing names each must return. Core checks the
 * matcher against it; the server runs the same queries through SQLite and PostgreSQL.
 */
export interface FleetQueryFixture {
  readonly query: string;
  /** Sorted thing names. */
  readonly expected: readonly string[];
}

const pkg = (packages: Record<string, string>): IndexedShadow => ({
  reported: Object.fromEntries(Object.entries(packages).map(([name, version]) => [name, { version }])),
});

function thing(name: string, rest: Partial<IndexedThing> = {}): IndexedThing {
  return {
    thingName: name,
    thingId: `id-${name}`,
    thingGroupNames: [],
    attributes: {},
    namedShadows: {},
    ...rest,
  };
}

const things: readonly IndexedThing[] = [
  thing('sensor-001', {
    thingTypeName: 'TempSensor',
    thingGroupNames: ['warehouse-a', 'sensors'],
    attributes: { firmware: '1.2.0', battery: '87', location: 'north', serial: 'abcd' },
    shadow: {
      reported: { temp: 21.5, mode: 'auto', tags: ['indoor', 'calibrated'] },
      desired: { mode: 'auto' },
      hasDelta: false,
      version: 3,
    },
    namedShadows: { $package: pkg({ samplePackage: '2.1.5', agent: '1.0.0' }) },
    connectivity: { connected: true, timestamp: 1_700_000_000_000 },
  }),
  thing('sensor-002', {
    thingTypeName: 'TempSensor',
    thingGroupNames: ['warehouse-a', 'sensors'],
    attributes: { firmware: '1.2.0', battery: '15', location: 'south', serial: 'abce' },
    shadow: { reported: { temp: 30, mode: 'eco' }, desired: { mode: 'auto' }, hasDelta: true, version: 7 },
    namedShadows: { $package: pkg({ samplePackage: '2.1.4' }) },
    connectivity: {
      connected: false,
      timestamp: 1_700_000_500_000,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
    },
  }),
  thing('sensor-003', {
    thingTypeName: 'TempSensor',
    thingGroupNames: ['warehouse-b', 'sensors'],
    attributes: { firmware: '1.3.0', battery: '50', serial: 'abcf' },
    shadow: { reported: { temp: -4, mode: 'auto', tags: ['outdoor'] }, hasDelta: false, version: 1 },
    namedShadows: { $package: pkg({ samplePackage: '2.1.5' }) },
    connectivity: { connected: true, timestamp: 1_700_001_000_000 },
  }),
  thing('sensor-004', {
    thingTypeName: 'TempSensor',
    thingGroupNames: ['warehouse-b'],
    attributes: { firmware: '2.0.0', battery: '100', serial: 'abcg' },
  }),
  thing('Sensor-005', { thingTypeName: 'TempSensor', attributes: { firmware: '1.2.0', battery: '9' } }),
  thing('sensor-01', { attributes: { battery: '75' } }),
  thing('sensor-0100', { attributes: { battery: '80.5' } }),
  thing('gateway-01', {
    thingTypeName: 'Gateway',
    thingGroupNames: ['warehouse-a', 'gateways'],
    attributes: { model: 'gw-x', firmware: '3.0.0' },
    namedShadows: {
      config: { reported: { uplink: 'lte', signal: -71 }, version: 4 },
      $package: pkg({ gatewayAgent: '3.0.1' }),
    },
    connectivity: { connected: true },
  }),
  thing('gateway-02', {
    thingTypeName: 'Gateway',
    thingGroupNames: ['warehouse-b', 'gateways'],
    attributes: { model: 'gw-x' },
    namedShadows: {
      config: { reported: { uplink: 'wifi', signal: -55 }, desired: { uplink: 'lte' }, hasDelta: true },
    },
    connectivity: { connected: false, disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' },
  }),
  thing('gateway-03', {
    thingTypeName: 'Gateway',
    thingGroupNames: ['gateways'],
    attributes: { model: 'gw-y' },
    namedShadows: { config: { reported: { uplink: 'ethernet' } } },
  }),
  thing('camera-front', {
    thingTypeName: 'Camera',
    thingGroupNames: ['lobby'],
    attributes: { resolution: '1080p' },
    shadow: { reported: { stream: { fps: 30, codec: 'h264' }, label: 'cam 2000' } },
    connectivity: { connected: true },
  }),
  thing('camera-back', {
    thingTypeName: 'Camera',
    thingGroupNames: ['lobby'],
    attributes: { resolution: '4k' },
    shadow: { reported: { stream: { fps: 60, codec: 'H264' }, label: 'cam 3000' } },
  }),
  thing('camera-side', {
    thingTypeName: 'Camera',
    shadow: { reported: { stream: { fps: 24.5 }, label: '50%_off' }, hasDelta: true },
  }),
  thing('pump-a1', {
    thingTypeName: 'Pump',
    thingGroupNames: ['plant-1'],
    attributes: { pressure: '3.5', unit: 'bar' },
    shadow: { reported: { running: true, rpm: 1450, label: 'a*b' } },
    namedShadows: { $package: pkg({ samplePackage: '2.1.5' }) },
  }),
  thing('pump-a2', {
    thingTypeName: 'Pump',
    thingGroupNames: ['plant-1'],
    attributes: { pressure: '12' },
    shadow: { reported: { running: false, rpm: 0, label: 'axb' } },
  }),
  thing('pump-b1', {
    thingTypeName: 'Pump',
    thingGroupNames: ['plant-2'],
    attributes: { pressure: '7.25' },
    shadow: { reported: { running: true, rpm: 2900, label: 'x?y' }, desired: { rpm: 3000 }, hasDelta: true },
  }),
  thing('pump-b2', {
    thingTypeName: 'Pump',
    thingGroupNames: ['plant-2'],
    attributes: { pressure: 'n/a' },
    shadow: { reported: { label: '[x]' } },
    connectivity: { connected: false },
  }),
  thing('valve-1', {
    thingGroupNames: ['plant-1', 'plant-2'],
    attributes: { state: 'open' },
    shadow: { reported: { label: 'back\\slash' } },
    namedShadows: { $package: pkg({ samplePackage: '2.10.0' }) },
  }),
  thing('valve-2', { attributes: { state: 'closed' }, shadow: { reported: { label: 'x_y' } } }),
  thing('meter-1', { attributes: { reading: '-5' } }),
  thing('meter-2', { attributes: { reading: '1e3' } }),
  thing('meter-3', { attributes: { reading: '0.5' } }),
  thing('meter-4', { attributes: { reading: 'high' } }),
  thing('lamp-1', { shadow: { reported: { color: 'grün' } } }),
  thing('lamp-2', { shadow: { reported: { color: 'Grün' } } }),
  thing('lamp-3', { shadow: { reported: { color: '🙂' } } }),
  thing('lamp-4', { shadow: { reported: { color: '\uffe0' } } }),
  thing('tracker-1', {
    shadow: { reported: { location: { lat: 47.6, lon: -122.3 }, history: [1, 2, 3], note: null } },
  }),
  thing('tracker-2', {
    shadow: { reported: { location: { lat: -33.9, lon: 151.2 }, history: [4, 5] } },
    namedShadows: { gps: { reported: { fix: '3d' } } },
  }),
  thing('orphan'),
];

const q = (query: string, ...expected: string[]): FleetQueryFixture => ({ query, expected: expected.sort() });

const queries: readonly FleetQueryFixture[] = [
  q('thingName:sensor-001', 'sensor-001'),
  q('sensor-001', 'sensor-001'),
  q('thingName:sensor-00*', 'sensor-001', 'sensor-002', 'sensor-003', 'sensor-004'),
  q('thingName:sensor-00?', 'sensor-001', 'sensor-002', 'sensor-003', 'sensor-004'),
  q('thingName:sensor-0?', 'sensor-01'),
  q('thingName:*-0100', 'sensor-0100'),
  q('Sensor*', 'Sensor-005'),
  q('thingName:Sensor-001'),
  q('thingTypeName:Gateway', 'gateway-01', 'gateway-02', 'gateway-03'),
  q('thingTypeName:gateway'),
  q('thingGroupNames:warehouse-a', 'sensor-001', 'sensor-002', 'gateway-01'),
  q('thingGroupNames:plant-*', 'pump-a1', 'pump-a2', 'pump-b1', 'pump-b2', 'valve-1'),
  q('thingGroupNames:plant-1 AND thingGroupNames:plant-2', 'valve-1'),
  q(
    'thingGroupNames:(warehouse-b OR lobby)',
    'sensor-003',
    'sensor-004',
    'gateway-02',
    'camera-front',
    'camera-back',
  ),
  q('shadow.name.$package.reported.samplePackage.version:2.1.5', 'sensor-001', 'sensor-003', 'pump-a1'),
  q(
    'shadow.name.$package.reported.samplePackage.version:*',
    'sensor-001',
    'sensor-002',
    'sensor-003',
    'pump-a1',
    'valve-1',
  ),
  q(
    'NOT shadow.name.$package.reported.samplePackage.version:2.1.5 AND thingTypeName:TempSensor',
    'sensor-002',
    'sensor-004',
    'Sensor-005',
  ),
  // Text order, not version order: "2.10.0" > "2.1.4".
  q(
    'shadow.name.$package.reported.samplePackage.version>"2.1.4"',
    'sensor-001',
    'sensor-003',
    'pump-a1',
    'valve-1',
  ),
  q('connectivity.connected:true', 'sensor-001', 'sensor-003', 'gateway-01', 'camera-front'),
  q('connectivity.connected:false', 'sensor-002', 'gateway-02', 'pump-b2'),
  q('NOT connectivity.connected:true AND thingTypeName:Gateway', 'gateway-02', 'gateway-03'),
  q('connectivity.disconnectReason:*TIMEOUT', 'gateway-02'),
  q('connectivity.timestamp>=1700000500000', 'sensor-002', 'sensor-003'),
  q('attributes.battery:[50 TO 87]', 'sensor-001', 'sensor-003', 'sensor-01', 'sensor-0100'),
  q('attributes.battery:{50 TO 87]', 'sensor-001', 'sensor-01', 'sensor-0100'),
  q('attributes.battery:[* TO 50}', 'sensor-002', 'Sensor-005'),
  q('attributes.battery<10', 'Sensor-005'),
  q('attributes.battery>=100', 'sensor-004'),
  q('attributes.battery:[80 TO *]', 'sensor-001', 'sensor-004', 'sensor-0100'),
  q('attributes.serial:["abcd" TO "abcf"]', 'sensor-001', 'sensor-002', 'sensor-003'),
  q('attributes.serial:{abcd TO abcf}', 'sensor-002'),
  q(
    'attributes.firmware:1.2.0 OR attributes.firmware:3*',
    'sensor-001',
    'sensor-002',
    'Sensor-005',
    'gateway-01',
  ),
  q('attributes.pressure>5', 'pump-a2', 'pump-b1'),
  q('attributes.pressure:*', 'pump-a1', 'pump-a2', 'pump-b1', 'pump-b2'),
  q('attributes.pressure>"5"', 'pump-b1', 'pump-b2'),
  q('attributes.reading:[-10 TO 1]', 'meter-1', 'meter-3'),
  q('attributes.reading>100', 'meter-2'),
  q('attributes.reading:1e3', 'meter-2'),
  q('attributes.reading:1000'),
  q('attributes.model:gw-x AND NOT connectivity.connected:true', 'gateway-02'),
  q('(attributes.model:gw-x OR attributes.model:gw-y) connectivity.connected:false', 'gateway-02'),
  q('thingTypeName:Pump -shadow.reported.running:true', 'pump-a2', 'pump-b2'),
  q('thingTypeName:Pump AND (shadow.reported.rpm>=1450 OR shadow.hasDelta:true)', 'pump-a1', 'pump-b1'),
  q('shadow.hasDelta:true', 'sensor-002', 'camera-side', 'pump-b1'),
  q('shadow.name.config.hasDelta:true', 'gateway-02'),
  q('shadow.name.config.reported.signal<-60', 'gateway-01'),
  q('shadow.name.config.desired.uplink:lte', 'gateway-02'),
  q('shadow.reported.tags:indoor', 'sensor-001'),
  q('shadow.reported.history:3', 'tracker-1'),
  q('shadow.reported.history:[4 TO 10]', 'tracker-2'),
  q('shadow.reported.location.lat<0', 'tracker-2'),
  q('shadow.reported.note:*'),
  q('shadow.reported.stream.fps:[24 TO 30}', 'camera-side'),
  q('shadow.reported.stream.codec:h264', 'camera-front'),
  q('shadow.reported.stream.codec:h2*', 'camera-front'),
  q('shadow.reported.label:"cam 2000"', 'camera-front'),
  q('shadow.reported.label:cam*', 'camera-front', 'camera-back'),
  q('shadow.reported.label:50%_off', 'camera-side'),
  q('shadow.reported.label:*%*', 'camera-side'),
  q('shadow.reported.label:x_y', 'valve-2'),
  q('shadow.reported.label:x?y', 'pump-b1', 'valve-2'),
  q('shadow.reported.label:x\\?y', 'pump-b1'),
  q('shadow.reported.label:a\\*b', 'pump-a1'),
  q('shadow.reported.label:a*b', 'pump-a1', 'pump-a2'),
  q('shadow.reported.label:\\[*', 'pump-b2'),
  q('shadow.reported.label:back\\\\*', 'valve-1'),
  q('shadow.reported.color:gr*', 'lamp-1'),
  q('shadow.reported.color:?', 'lamp-3', 'lamp-4'),
  // Code-point (UTF-8 byte) order: U+1F642 sorts after U+FFE5, unlike in UTF-16.
  q('shadow.reported.color>"\uffe5"', 'lamp-3'),
  q('shadow.reported.color:["G" TO "h"]', 'lamp-1', 'lamp-2'),
  q('shadow.name.gps.reported.fix:3d', 'tracker-2'),
  q('thingId:id-orphan', 'orphan'),
  q('NOT thingName:*-*', 'orphan'),
];

/** Things and queries with their expected results; see {@link FleetQueryFixture}. */
export const fleetQueryFixtures: {
  readonly things: readonly IndexedThing[];
  readonly queries: readonly FleetQueryFixture[];
} = {
  things,
  queries,
};
