import { webcrypto } from 'node:crypto';
import https from 'node:https';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { toPem, x509Crypto } from '../services/device-ca.js';
import { makeCa, type TestCa } from '../services/pki-test-support.js';
import * as x509 from '../services/x509.js';

/** Tests of the device TLS listener: clients with client certificates, raw HTTPS requests. */

/** A certificate and its private key, PEM. */
export interface ClientCert {
  cert: string;
  key: string;
}

/** Devices sign with these; the listener judges a request with a client certificate by the certificate. */
export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIADEVICEDUMMY00000', secretAccessKey: 'not-a-secret' };

export interface DeviceClients {
  jobs: IoTJobsDataPlaneClient;
  data: IoTDataPlaneClient;
}

/** The real SDK clients on the TLS listener, presenting `client` (or no certificate). */
export function deviceClients(
  endpoint: string,
  ca: string,
  client: ClientCert | undefined,
  credentials: { accessKeyId: string; secretAccessKey: string } = DUMMY_CREDENTIALS,
  region = 'eu-west-1',
): DeviceClients {
  const config = () => ({
    endpoint,
    region,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca, ...client }) }),
  });
  return { jobs: new IoTJobsDataPlaneClient(config()), data: new IoTDataPlaneClient(config()) };
}

/** One HTTPS request to the listener (no signature). */
export function httpsRequest(
  url: string,
  ca: string,
  client: ClientCert | undefined,
  method: string,
  body?: string,
): Promise<{ status: number; errorType: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, ...client, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          errorType: res.headers['x-amzn-errortype'] as string | undefined,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A client (or, with `serverNames`, server) certificate signed by `ca`, with its key. */
export async function issueTestCertificate(ca: TestCa, serverNames?: string[]): Promise<ClientCert> {
  const crypto = x509Crypto();
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: serverNames ? `CN=${serverNames[0]}` : 'CN=foreign-device',
      issuer: ca.cert.subjectName,
      publicKey: keys.publicKey as never,
      signingKey: ca.keys.privateKey as never,
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() + 30 * 86_400_000),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: serverNames
        ? [new x509.SubjectAlternativeNameExtension(serverNames.map((n) => ({ type: 'dns', value: n })))]
        : [],
    },
    crypto,
  );
  return {
    cert: cert.toString('pem'),
    key: toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
  };
}

export { makeCa };
