import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '@otter/core';
import { createDatabase, RegistryStore } from '../store/index.js';
import {
  BACKENDS,
  freshPostgresDatabase,
  startTestServer,
  TEST_DATABASE_URL,
} from '../testing/test-server.js';
import { DEVICE_CA_SUBJECT, DeviceCa, getCaCertificatePem } from './device-ca.js';
import * as x509 from './x509.js';

async function openPair(backend: string) {
  const dir = mkdtempSync(join(tmpdir(), 'otter-ca-'));
  const pg = backend === 'postgres' ? await freshPostgresDatabase(TEST_DATABASE_URL!) : undefined;
  const a = new RegistryStore(await createDatabase(pg?.url, dir));
  const b = new RegistryStore(await createDatabase(pg?.url, dir));
  return {
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

for (const backend of BACKENDS) {
  describe(`device CA (${backend.name})`, { skip: backend.skip }, () => {
    const closers: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of closers) await c();
    });

    test('two processes creating the CA at once end up sharing one', async () => {
      const { a, b, close } = await openPair(backend.name);
      closers.push(close);
      const clock = new ManualClock(Date.UTC(2030, 0, 1));
      const cas = [
        new DeviceCa(a.certificates, clock),
        new DeviceCa(b.certificates, clock),
        new DeviceCa(a.certificates, clock),
      ];
      const loaded = await Promise.all(cas.map((ca) => ca.load()));
      assert.equal(new Set(loaded.map((l) => l.certificateId)).size, 1);
      assert.equal(await getCaCertificatePem(b), loaded[0]!.certificatePem);

      const ca = new X509Certificate(loaded[0]!.certificatePem);
      assert.ok(ca.ca);
      assert.equal(ca.subject.replace(/\n/g, ', '), DEVICE_CA_SUBJECT);
      assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(ca.verify(ca.publicKey));
      const years = (Date.parse(ca.validTo) - Date.UTC(2030, 0, 1)) / (365.25 * 86_400_000);
      assert.ok(years > 9.9 && years < 10.1, `${years}`);

      // Device certificates end with the CA, never after it.
      const issued = await cas[1]!.issueWithKeys('CN=d');
      const cert = new X509Certificate(Buffer.from(issued.certificate.rawData));
      assert.ok(await cas[0]!.issued(cert));
      assert.ok(Date.parse(cert.validTo) <= Date.parse(ca.validTo));
      assert.equal(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), true);
      assert.ok(issued.certificate.getExtension(x509.BasicConstraintsExtension)?.ca === false);
    });
  });
}

describe('GET /v1/device-ca', () => {
  test('serves the device CA certificate without credentials', async () => {
    const s = await startTestServer();
    try {
      const res = await fetch(`${s.server.url}/v1/device-ca`);
      assert.equal(res.status, 200);
      const pem = await res.text();
      assert.equal(pem, await getCaCertificatePem(s.server.store));
      assert.match(new X509Certificate(pem).subject, /CN=Otter Device CA/);
    } finally {
      await s.close();
    }
  });
});
