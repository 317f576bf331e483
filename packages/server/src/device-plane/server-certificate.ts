import { randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Clock } from '@otter/core';
import { ConfigError } from '../config.js';
import { deviceCaFor, type LoadedDeviceCa, toPem, x509Crypto } from '../services/device-ca.js';
import * as x509 from '../services/x509.js';
import type { RegistryStore } from '../store/index.js';

/** The server side of the TLS listeners (device HTTPS and MQTT over TLS), PEM. */
export interface ServerTls {
  cert: string;
  key: string;
  /** Where it came from: the configured files, or issued by the Otter device CA at startup. */
  source: 'files' | 'device-ca';
}

/** The settings that decide the server certificate (a ServerConfig has them all). */
export interface ServerTlsConfig {
  host: string;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
}

/** Issued server certificates live this long; a new one is issued at every start. */
const SERVER_CERT_VALIDITY_MS = 365 * 86_400_000;
const NOT_BEFORE_SLACK_MS = 60_000;
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The names an issued server certificate covers: localhost, loopback and the configured host. */
export function serverCertificateNames(host: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1'];
  if (!WILDCARD_HOSTS.has(host) && !names.includes(host)) names.push(host);
  return names;
}

/**
 * Signs a TLS server certificate (ECDSA P-256, `serverAuth`) with the device CA, so devices that
 * trust the CA trust the server too. The key is made here and kept in memory only.
 */
export async function issueServerCertificate(
  ca: LoadedDeviceCa,
  names: string[],
  now: number,
): Promise<{ cert: string; key: string }> {
  const crypto = x509Crypto();
  const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const notAfter = Math.min(now + SERVER_CERT_VALIDITY_MS, ca.certificate.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial.toString('hex'),
      subject: `CN=${names.find((n) => isIP(n) === 0 && n !== 'localhost') ?? 'localhost'}, O=Otter`,
      issuer: ca.certificate.subjectName,
      notBefore: new Date(now - NOT_BEFORE_SLACK_MS),
      notAfter: new Date(notAfter),
      publicKey: keys.publicKey as never,
      signingKey: ca.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => (isIP(n) ? { type: 'ip', value: n } : { type: 'dns', value: n })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(ca.certificate, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: toPem('PRIVATE KEY', pkcs8) };
}

/**
 * The server certificate of the TLS listeners: `tlsCertFile`/`tlsKeyFile` when configured, else one
 * issued now by the Otter device CA for serverCertificateNames(host).
 */
export async function resolveServerTls(
  config: ServerTlsConfig,
  store: RegistryStore,
  clock: Clock,
): Promise<ServerTls> {
  if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
    const read = (key: string, file: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (e) {
        throw new ConfigError(`cannot read ${key} ${file}: ${(e as Error).message}`);
      }
    };
    const tls = {
      cert: read('tlsCertFile', config.tlsCertFile),
      key: read('tlsKeyFile', config.tlsKeyFile),
    };
    try {
      createSecureContext(tls); // fails on unparseable PEM or a key that does not match the certificate
    } catch (e) {
      throw new ConfigError(
        `tlsCertFile ${config.tlsCertFile} / tlsKeyFile ${config.tlsKeyFile}: ${(e as Error).message}`,
      );
    }
    return { ...tls, source: 'files' };
  }
  const ca = await deviceCaFor(store.certificates, clock).load();
  return {
    ...(await issueServerCertificate(ca, serverCertificateNames(config.host), clock.now())),
    source: 'device-ca',
  };
}
