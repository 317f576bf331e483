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
  'CA_NOT_ACTIVE',
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
  /** Remembers the parsing and CA signature checks of certificates seen before (per listener). */
  verified?: VerifiedCertificates;
}

/**
 * What identifyDevice learns from a certificate's bytes alone (its id and whether the Otter device
 * CA signed it): the same for the same DER, so a device that reconnects or sends many requests is
 * parsed and verified once. Everything that can change (registration, status, validity against the
 * clock, attachments) is still read on every call. Bounded: the oldest entry goes first.
 */
export class VerifiedCertificates {
  readonly #entries = new Map<
    string,
    { certificateId: string; issuedBy: Map<string, boolean>; cert: NodeX509 }
  >();
  constructor(readonly capacity = 10_000) {}

  /** The parsed certificate and its id; MALFORMED_CERTIFICATE when the bytes are not one. */
  parse(der: Buffer) {
    const key = der.toString('base64');
    let entry = this.#entries.get(key);
    if (!entry) {
      const cert = parseCertificate(der);
      entry = { certificateId: certificateIdOf(cert.raw), issuedBy: new Map(), cert };
      if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, entry);
    }
    return entry;
  }
}

function parseCertificate(der: Buffer): NodeX509 {
  try {
    return new NodeX509(der);
  } catch {
    throw new DeviceAuthError('MALFORMED_CERTIFICATE', 'The client certificate could not be parsed');
  }
}

/**
 * Who is on the other end of a TLS connection: the certificate must be registered, ACTIVE, within
 * its validity, issued by the Otter device CA (checked again here) or by the registered CA it was
 * registered with (which must be ACTIVE), and attached to exactly one thing — or, when `clientId` (the MQTT client id) is given, to that thing.
 * The TLS handshake has already proved that the peer holds the certificate's private key.
 */
export async function identifyDevice(
  store: RegistryStore,
  peerCertificateDer: Buffer,
  clientId?: string,
  options: IdentifyOptions = {},
): Promise<DeviceIdentity> {
  const parsed = options.verified?.parse(peerCertificateDer);
  const cert = parsed?.cert ?? parseCertificate(peerCertificateDer);
  const certificateId = parsed?.certificateId ?? certificateIdOf(cert.raw);
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
    // Keyed by the CA's id: a new device CA means checking again.
    let issued = parsed?.issuedBy.get(record.caCertificateId);
    if (issued === undefined) {
      issued = await ca.issued(cert);
      parsed?.issuedBy.set(record.caCertificateId, issued);
    }
    if (!issued)
      throw new DeviceAuthError(
        'UNTRUSTED_ISSUER',
        `Certificate ${certificateId} is not signed by the Otter device CA`,
      );
  } else {
    // A registered CA: the certificate was checked against it at registration (its DER is pinned by
    // id); the CA must still be registered and ACTIVE.
    const registered = await store.certificates.caCertificates.get(record.caCertificateId);
    if (!registered)
      throw new DeviceAuthError(
        'UNTRUSTED_ISSUER',
        `The CA certificate ${record.caCertificateId} of certificate ${certificateId} is not registered`,
      );
    if (registered.status !== 'ACTIVE')
      throw new DeviceAuthError(
        'CA_NOT_ACTIVE',
        `The CA certificate ${record.caCertificateId} of certificate ${certificateId} is ${registered.status}, not ACTIVE`,
      );
  }

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
