import { webcrypto } from 'node:crypto';
import {
  GetRegistrationCodeCommand,
  type IoTClient,
  RegisterCACertificateCommand,
} from '@aws-sdk/client-iot';
import { x509Crypto } from './device-ca.js';
import * as x509 from './x509.js';

/** Certificates and CSRs made outside Otter, for tests of registration and identity. */

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

type Keys = Awaited<ReturnType<typeof webcrypto.subtle.generateKey>> & {
  publicKey: webcrypto.CryptoKey;
  privateKey: webcrypto.CryptoKey;
};

export const ecKeys = async (): Promise<Keys> =>
  (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as Keys;

export interface TestCa {
  pem: string;
  cert: x509.X509Certificate;
  keys: Keys;
}

export async function makeCa(name = 'CN=Test CA'): Promise<TestCa> {
  const crypto = x509Crypto();
  const keys = await ecKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name,
      keys: keys as never,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      signingAlgorithm: SIGN,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    },
    crypto,
  );
  return { pem: cert.toString('pem'), cert, keys };
}

/** A device certificate signed by `ca` (or self-signed when `ca` is absent). */
export async function makeDeviceCert(
  ca?: TestCa,
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<string> {
  const crypto = x509Crypto();
  const keys = await ecKeys();
  const notBefore = validity.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = validity.notAfter ?? new Date(Date.now() + 30 * DAY);
  const cert = ca
    ? await x509.X509CertificateGenerator.create(
        {
          subject: 'CN=device',
          issuer: ca.cert.subjectName,
          publicKey: keys.publicKey as never,
          signingKey: ca.keys.privateKey as never,
          notBefore,
          notAfter,
          signingAlgorithm: SIGN,
        },
        crypto,
      )
    : await x509.X509CertificateGenerator.createSelfSigned(
        { name: 'CN=device', keys: keys as never, notBefore, notAfter, signingAlgorithm: SIGN },
        crypto,
      );
  return cert.toString('pem');
}

/** A PKCS#10 request, ECDSA P-256 or RSA-2048. */
export async function makeCsr(kind: 'ec' | 'rsa', subject = 'CN=sensor-1, O=Example'): Promise<string> {
  const crypto = x509Crypto();
  const alg =
    kind === 'ec'
      ? EC
      : {
          name: 'RSASSA-PKCS1-v1_5',
          hash: 'SHA-256',
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: 2048,
        };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as Keys;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: subject, keys: keys as never, signingAlgorithm: kind === 'ec' ? SIGN : alg },
    crypto,
  );
  return csr.toString('pem');
}

/**
 * The verification certificate RegisterCACertificate wants in DEFAULT mode: a fresh key, subject
 * `CN=<registrationCode>`, signed by the CA's key (`signer` instead, to make a wrong one).
 */
export async function makeVerificationCert(ca: TestCa, registrationCode: string, signer: TestCa = ca) {
  const crypto = x509Crypto();
  const keys = await ecKeys();
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: `CN=${registrationCode}`,
      issuer: ca.cert.subjectName,
      publicKey: keys.publicKey as never,
      signingKey: signer.keys.privateKey as never,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 30 * DAY),
      signingAlgorithm: SIGN,
    },
    crypto,
  );
  return cert.toString('pem');
}

/** Registers `ca` through the API (DEFAULT mode, with its verification certificate), ACTIVE. */
export async function registerTestCa(iot: IoTClient, ca: TestCa, setAsActive = true): Promise<string> {
  const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
  const out = await iot.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.pem,
      verificationCertificate: await makeVerificationCert(ca, registrationCode!),
      setAsActive,
    }),
  );
  return out.certificateId!;
}
