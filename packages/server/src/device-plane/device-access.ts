import { OtterError } from '@otter/core';
import type { AwsService } from '../aws/model.js';

/** A request made by a device, identified by its client certificate. */
export interface DevicePrincipal {
  thingName: string;
  certificateId: string;
}

/**
 * What a device may call on the TLS listener: the jobs data plane and its shadows. Each of these
 * operations names a thing (`{thingName}` in the path), which must be the device's own.
 */
export const DEVICE_OPERATIONS: Partial<Record<AwsService, readonly string[]>> = {
  'iot-jobs-data': [
    'GetPendingJobExecutions',
    'StartNextPendingJobExecution',
    'DescribeJobExecution',
    'UpdateJobExecution',
  ],
  iotdata: ['GetThingShadow', 'UpdateThingShadow', 'DeleteThingShadow', 'ListNamedShadowsForThing'],
};

/** Whether a device may call `operation` of `service` at all (whatever the thing). */
export function deviceMayCall(service: AwsService, operation: string): boolean {
  return DEVICE_OPERATIONS[service]?.includes(operation) ?? false;
}

/**
 * Throws ForbiddenException (403) unless `device` may run `operation` with these path labels:
 * an operation of DEVICE_OPERATIONS whose `thingName` is the device's own thing.
 */
export function authorizeDevice(
  device: Pick<DevicePrincipal, 'thingName'>,
  service: AwsService,
  operation: string,
  input: { thingName?: unknown },
): void {
  if (!deviceMayCall(service, operation))
    throw new OtterError(
      'ForbiddenException',
      `A device certificate may not call ${service}:${operation}; only its own jobs and shadows`,
    );
  if (input.thingName !== device.thingName)
    throw new OtterError(
      'ForbiddenException',
      `The certificate of thing ${device.thingName} may not access thing ${String(input.thingName)}`,
    );
}
