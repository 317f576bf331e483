import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOtterError } from '@otter/core';
import fc from 'fast-check';
import type { AwsService } from '../aws/model.js';
import { authorizeDevice, DEVICE_OPERATIONS, deviceMayCall } from './device-access.js';

const allowed = Object.entries(DEVICE_OPERATIONS).flatMap(([service, ops]) =>
  (ops ?? []).map((op) => [service as AwsService, op] as const),
);
const operation = fc.oneof(
  fc.constantFrom(...allowed),
  fc.constantFrom<readonly [AwsService, string]>(
    ['iot', 'DescribeThing'],
    ['iot', 'DescribeJobExecution'],
    ['iotdata', 'Publish'],
    ['iot-jobs-data', 'StartCommandExecution'],
  ),
);
const name = fc.oneof(fc.constantFrom('sensor-1', 'sensor-2', 'Sensor-1', ''), fc.string({ maxLength: 16 }));

const refusal = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (error) {
    assert.ok(isOtterError(error));
    return error.type;
  }
};

test('property: a device may run an operation iff it is a device operation on its own thing', () => {
  fc.assert(
    fc.property(name, name, operation, (device, target, [service, op]) => {
      const outcome = refusal(() =>
        authorizeDevice({ thingName: device }, service, op, { thingName: target }),
      );
      const expected = deviceMayCall(service, op) && device === target ? undefined : 'ForbiddenException';
      assert.equal(outcome, expected);
    }),
    { numRuns: 2000 },
  );
});

test('devices reach the jobs data plane and shadows only', () => {
  assert.equal(deviceMayCall('iot-jobs-data', 'UpdateJobExecution'), true);
  assert.equal(deviceMayCall('iotdata', 'UpdateThingShadow'), true);
  assert.equal(deviceMayCall('iot', 'DescribeJobExecution'), false);
  assert.equal(deviceMayCall('iotdata', 'Publish'), false);
  // An operation without a thing in its path is never the device's own.
  assert.equal(
    refusal(() => authorizeDevice({ thingName: 'sensor-1' }, 'iotdata', 'GetThingShadow', {})),
    'ForbiddenException',
  );
});
