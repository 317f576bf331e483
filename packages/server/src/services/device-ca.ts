import { createHash, X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import { type Clock, systemClock } from '@otter/core';
import type { CertificateStore, DeviceCaRecord } from '../store/certificate-store.js';
import * as x509 from './x509.js';

/** The device CA: ECDSA P-256, self-signed, valid for ten years from its creation. */
export const DEVICE_CA_SUBJECT = 'CN=Otter Device CA, O=Otter';
export const DEVICE_CA_VALIDITY_YEARS = 10;
/** AWS IoT issues device certificates valid until the end of 2049; Otter caps them at the CA's expiry. */
export const DEVICE_CERT_NOT_AFTER = Date.UTC(2049, 11, 31, 23, 59, 59);
/** Certificates start a minute early so devices with a slightly slow clock accept them. */
const NOT_BEFORE_SLACK_MS = 60_000;

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** The crypto type @peculiar/x509 expects (the DOM's, which this project does not load). */
export type X509Crypto = Parameters<typeof x509.cryptoProvider.set>[0];

/** @peculiar/x509 needs a WebCrypto provider: set on first use, never at import. */
export function x509Crypto(): X509Crypto {
  const provider = webcrypto as unknown as X509Crypto;
  x509.cryptoProvider.set(provider);
  return provider;
}

/** AWS certificate ids are the lower-case hex SHA-256 of the DER. */
export const certificateIdOf = (der: ArrayBuffer | Uint8Array): string =>
  createHash('sha256')
    .update(der instanceof Uint8Array ? der : new Uint8Array(der))
    .digest('hex');

/** A positive random 128-bit serial number in hex. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

export const toPem = (label: string, der: ArrayBuffer): string => `${x509.PemConverter.encode(der, label)}\n`;

export interface LoadedDeviceCa {
  certificateId: string;
  certificatePem: string;
  certificate: x509.X509Certificate;
  /** For checks on the connection path (node's native verification). */
  nodeCertificate: NodeX509;
  privateKey: webcrypto.CryptoKey;
}

/** Generates a fresh CA (not stored). */
export async function generateDeviceCa(now: number): Promise<DeviceCaRecord> {
  const provider = x509Crypto();
  const c = webcrypto;
  const keys = (await c.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + DEVICE_CA_VALIDITY_YEARS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: DEVICE_CA_SUBJECT,
      notBefore: new Date(now - NOT_BEFORE_SLACK_MS),
      notAfter,
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    },
    provider,
  );
  const pkcs8 = await c.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificateId: certificateIdOf(cert.rawData),
    certificatePem: toPem('CERTIFICATE', cert.rawData),
    privateKeyPem: toPem('PRIVATE KEY', pkcs8),
    createdAt: now,
  };
}

/**
 * The Otter device CA, created on first use and kept in the database so every server process
 * shares it. Creation is race-safe: insert-if-absent, then read back whichever row won.
 */
export class DeviceCa {
  #loaded: Promise<LoadedDeviceCa> | undefined;

  constructor(
    private readonly store: CertificateStore,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Loads (or on first use creates) the CA; cached per instance. */
  load(): Promise<LoadedDeviceCa> {
    this.#loaded ??= this.#load().catch((error: unknown) => {
      this.#loaded = undefined;
      throw error;
    });
    return this.#loaded;
  }

  async #load(): Promise<LoadedDeviceCa> {
    const record =
      (await this.store.getDeviceCa()) ??
      (await this.store.ensureDeviceCa(await generateDeviceCa(this.clock.now())));
    x509Crypto();
    const c = webcrypto;
    const certificate = new x509.X509Certificate(record.certificatePem);
    const privateKey = await c.subtle.importKey(
      'pkcs8',
      x509.PemConverter.decodeFirst(record.privateKeyPem),
      EC_P256,
      false,
      ['sign'],
    );
    return {
      certificateId: record.certificateId,
      certificatePem: record.certificatePem,
      certificate,
      nodeCertificate: new NodeX509(record.certificatePem),
      privateKey,
    };
  }

  /** The CA certificate (PEM) that devices and TLS listeners trust. */
  async getCaCertificatePem(): Promise<string> {
    return (await this.load()).certificatePem;
  }

  /** Signs a device certificate for `publicKey`, valid until 2049 or the CA's expiry, whichever is first. */
  async issue(publicKey: x509.PublicKey, subject: string | x509.Name): Promise<x509.X509Certificate> {
    const ca = await this.load();
    const c = x509Crypto();
    const now = this.clock.now();
    const rsa = publicKey.algorithm.name.startsWith('RSA');
    const usage = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
    return x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject,
        issuer: ca.certificate.subjectName,
        notBefore: new Date(now - NOT_BEFORE_SLACK_MS),
        notAfter: new Date(Math.min(DEVICE_CERT_NOT_AFTER, ca.certificate.notAfter.getTime())),
        publicKey,
        signingKey: ca.privateKey,
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(usage, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          await x509.AuthorityKeyIdentifierExtension.create(ca.certificate, false, c),
          await x509.SubjectKeyIdentifierExtension.create(publicKey, false, c),
        ],
      },
      c,
    );
  }

  /** Whether `cert` was signed by this CA (issuer name and signature). */
  async issued(cert: NodeX509): Promise<boolean> {
    const ca = await this.load();
    return cert.checkIssued(ca.nodeCertificate) && cert.verify(ca.nodeCertificate.publicKey);
  }

  /** Generates an ECDSA P-256 key pair and a device certificate for it (CreateKeysAndCertificate). */
  async issueWithKeys(
    subject: string,
  ): Promise<{ certificate: x509.X509Certificate; publicKeyPem: string; privateKeyPem: string }> {
    x509Crypto();
    const c = webcrypto;
    const keys = (await c.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const spki = await c.subtle.exportKey('spki', keys.publicKey);
    const pkcs8 = await c.subtle.exportKey('pkcs8', keys.privateKey);
    const certificate = await this.issue(new x509.PublicKey(spki), subject);
    return {
      certificate,
      publicKeyPem: toPem('PUBLIC KEY', spki),
      privateKeyPem: toPem('PRIVATE KEY', pkcs8),
    };
  }
}

/** One DeviceCa per store, so the connection path and the handlers share the loaded CA. */
const shared = new WeakMap<CertificateStore, DeviceCa>();

export function deviceCaFor(store: CertificateStore, clock: Clock = systemClock): DeviceCa {
  let ca = shared.get(store);
  if (!ca) {
    ca = new DeviceCa(store, clock);
    shared.set(store, ca);
  }
  return ca;
}

/** The Otter device CA certificate (PEM), created on first use. For docs, agents and TLS trust. */
export function getCaCertificatePem(
  store: { certificates: CertificateStore },
  clock: Clock = systemClock,
): Promise<string> {
  return deviceCaFor(store.certificates, clock).getCaCertificatePem();
}
