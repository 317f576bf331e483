import { X509Certificate as NodeX509 } from 'node:crypto';
import { OtterError } from '@otter/core';
import type { RegistryStore } from '../store/index.js';
import { certificateIdOf, deviceCaFor } from './device-ca.js';

/** Why a device was refused; the message says the same for people. */
export const DEVICE_AUTH_FAILURES = [
  'MALFORMED_CERTIFICATE',
  'UNKNOWN_CERTIFICATE',
  'NOT_ACTIVE',
  'UNTRUSTED_ISSUER',
  'NOT_YET_VALID',
  'EXPIRED',
  'NO_THING',
  'SEVERAL_THINGS',
  'CLIENT_ID_MISMATCH',
] as const;
export type DeviceAuthFailure = (typeof DEVICE_AUTH_FAILURES)[number];

/** A refused device connection: UnauthorizedException (401) with a machine-readable reason. */
export class DeviceAuthError extends OtterError {
  constructor(
    readonly reason: DeviceAuthFailure,
    message: string,
  ) {
    super('UnauthorizedException', message);
  }
}

export interface DeviceIdentity {
  thingName: string;
  certificateId: string;
}

export interface IdentifyOptions {
  /** Epoch ms to check validity against; default now. */
  now?: number;
  /**
   * Accept certificates registered with RegisterCertificateWithoutCA (AWS `SNI_ONLY` mode). Off by
   * default: nothing but the registration itself vouches for them.
   */
  allowCertificatesWithoutCa?: boolean;
}

/**
 * Who is on the other end of a TLS connection: the certificate must be registered, ACTIVE, within
 * its validity, issued by the Otter device CA (checked again here) or by a CA it was registered with,
 * and attached to exactly one thing — or, when `clientId` (the MQTT client id) is given, to that thing.
 * The TLS handshake has already proved that the peer holds the certificate's private key.
 */
export async function identifyDevice(
  store: RegistryStore,
  peerCertificateDer: Buffer,
  clientId?: string,
  options: IdentifyOptions = {},
): Promise<DeviceIdentity> {
  let cert: NodeX509;
  try {
    cert = new NodeX509(peerCertificateDer);
  } catch {
    throw new DeviceAuthError('MALFORMED_CERTIFICATE', 'The client certificate could not be parsed');
  }
  const certificateId = certificateIdOf(cert.raw);
  const record = await store.certificates.get(certificateId);
  if (!record)
    throw new DeviceAuthError('UNKNOWN_CERTIFICATE', `Certificate ${certificateId} is not registered`);
  if (record.status !== 'ACTIVE')
    throw new DeviceAuthError('NOT_ACTIVE', `Certificate ${certificateId} is ${record.status}, not ACTIVE`);

  const ca = deviceCaFor(store.certificates);
  if (record.caCertificateId === undefined) {
    if (!options.allowCertificatesWithoutCa)
      throw new DeviceAuthError(
        'UNTRUSTED_ISSUER',
        `Certificate ${certificateId} was registered without a CA; this listener does not accept such certificates`,
      );
  } else if (record.caCertificateId === (await ca.load()).certificateId) {
    if (!(await ca.issued(cert)))
      throw new DeviceAuthError(
        'UNTRUSTED_ISSUER',
        `Certificate ${certificateId} is not signed by the Otter device CA`,
      );
  }
  // Otherwise the certificate was checked against the CA given at registration; its DER is pinned by id.

  const now = options.now ?? Date.now();
  if (now < record.notBefore)
    throw new DeviceAuthError('NOT_YET_VALID', `Certificate ${certificateId} is not valid yet`);
  if (now > record.notAfter) throw new DeviceAuthError('EXPIRED', `Certificate ${certificateId} has expired`);

  if (clientId !== undefined) {
    if (!(await store.certificates.isAttached(certificateId, clientId)))
      throw new DeviceAuthError(
        'CLIENT_ID_MISMATCH',
        `Certificate ${certificateId} is not attached to thing ${clientId} (the client id must be the thing name)`,
      );
    return { thingName: clientId, certificateId };
  }
  const things = await store.certificates.listThings(certificateId, { limit: 1 });
  const [thingName] = things.items;
  if (thingName === undefined)
    throw new DeviceAuthError('NO_THING', `Certificate ${certificateId} is not attached to any thing`);
  if (things.nextToken !== undefined)
    throw new DeviceAuthError(
      'SEVERAL_THINGS',
      `Certificate ${certificateId} is attached to several things; connect with the thing name as client id`,
    );
  return { thingName, certificateId };
}
