import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DetachThingPrincipalCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { createDatabase, RegistryStore } from '../store/index.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';
import { type DeviceAuthError, type DeviceAuthFailure, identifyDevice } from './device-identity.js';
import { makeCa, makeDeviceCert, registerTestCa } from './pki-test-support.js';

const der = (pem: string) => new X509Certificate(pem).raw;

for (const backend of BACKENDS) {
  describe(`identifyDevice with certificates made through the AWS API (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    let store: RegistryStore;
    /** Asserts that identification fails with this reason, as UnauthorizedException. */
    const refused = (p: Promise<unknown>, reason: DeviceAuthFailure) =>
      assert.rejects(p, (e: DeviceAuthError) => {
        assert.equal(e.type, 'UnauthorizedException');
        assert.equal(e.status, 401);
        assert.equal(e.reason, reason);
        return true;
      });
    const newCert = async (active = true) =>
      s.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: active }));
    const attach = (thingName: string, principal: string) =>
      s.iot.send(new AttachThingPrincipalCommand({ thingName, principal }));

    before(async () => {
      s = await startTestServer(backend.name);
      // The identity check runs in its own store over the same database, as a TLS listener would.
      store = new RegistryStore(await createDatabase(s.server.config.databaseUrl, s.server.config.dataDir));
      for (const t of ['car-1', 'car-2', 'car-3']) await s.iot.send(new CreateThingCommand({ thingName: t }));
    });
    after(async () => {
      await store?.close();
      await s?.close();
    });

    test('an active certificate attached to one thing identifies that thing', async () => {
      const c = await newCert();
      await attach('car-1', c.certificateArn!);
      assert.deepEqual(await identifyDevice(store, der(c.certificatePem!)), {
        thingName: 'car-1',
        certificateId: c.certificateId,
      });
      assert.deepEqual(await identifyDevice(store, der(c.certificatePem!), 'car-1'), {
        thingName: 'car-1',
        certificateId: c.certificateId,
      });
      await refused(identifyDevice(store, der(c.certificatePem!), 'car-2'), 'CLIENT_ID_MISMATCH');
      // Validity is checked against the given time.
      const cert = new X509Certificate(c.certificatePem!);
      await refused(
        identifyDevice(store, der(c.certificatePem!), undefined, { now: Date.parse(cert.validTo) + 1000 }),
        'EXPIRED',
      );
      await refused(
        identifyDevice(store, der(c.certificatePem!), undefined, { now: Date.parse(cert.validFrom) - 1000 }),
        'NOT_YET_VALID',
      );
    });

    test('no thing, several things, and the client id choosing among them', async () => {
      const c = await newCert();
      await refused(identifyDevice(store, der(c.certificatePem!)), 'NO_THING');
      await attach('car-2', c.certificateArn!);
      await attach('car-3', c.certificateArn!);
      await refused(identifyDevice(store, der(c.certificatePem!)), 'SEVERAL_THINGS');
      assert.equal((await identifyDevice(store, der(c.certificatePem!), 'car-3')).thingName, 'car-3');
      await s.iot.send(new DetachThingPrincipalCommand({ thingName: 'car-3', principal: c.certificateArn! }));
      await refused(identifyDevice(store, der(c.certificatePem!), 'car-3'), 'CLIENT_ID_MISMATCH');
      assert.equal((await identifyDevice(store, der(c.certificatePem!))).thingName, 'car-2');
    });

    test('statuses: INACTIVE and REVOKED are refused; deleted and foreign certificates are unknown', async () => {
      const c = await newCert(false);
      await attach('car-1', c.certificateArn!);
      await refused(identifyDevice(store, der(c.certificatePem!)), 'NOT_ACTIVE');
      await s.iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'ACTIVE' }));
      assert.equal(
        (await identifyDevice(store, der(c.certificatePem!), 'car-1')).certificateId,
        c.certificateId,
      );
      await s.iot.send(
        new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'REVOKED' }),
      );
      await refused(identifyDevice(store, der(c.certificatePem!)), 'NOT_ACTIVE');

      const gone = await newCert(false);
      await s.iot.send(new DeleteCertificateCommand({ certificateId: gone.certificateId }));
      await refused(identifyDevice(store, der(gone.certificatePem!)), 'UNKNOWN_CERTIFICATE');
      await refused(identifyDevice(store, der(await makeDeviceCert())), 'UNKNOWN_CERTIFICATE');
      await refused(identifyDevice(store, Buffer.from('not a certificate')), 'MALFORMED_CERTIFICATE');
    });

    test('certificates of a CA given at registration, and certificates registered without a CA', async () => {
      const ca = await makeCa();
      const pem = await makeDeviceCert(ca);
      await registerTestCa(s.iot, ca); // the CA must be registered (RegisterCACertificate)
      const reg = await s.iot.send(
        new RegisterCertificateCommand({ certificatePem: pem, caCertificatePem: ca.pem, status: 'ACTIVE' }),
      );
      await attach('car-1', `arn:aws:iot:${s.region}:123456789012:cert/${reg.certificateId}`);
      assert.equal((await identifyDevice(store, der(pem), 'car-1')).certificateId, reg.certificateId);

      const selfSigned = await makeDeviceCert();
      const noCa = await s.iot.send(
        new RegisterCertificateWithoutCACommand({ certificatePem: selfSigned, status: 'ACTIVE' }),
      );
      await attach('car-1', noCa.certificateArn!);
      await refused(identifyDevice(store, der(selfSigned), 'car-1'), 'UNTRUSTED_ISSUER');
      assert.equal(
        (await identifyDevice(store, der(selfSigned), 'car-1', { allowCertificatesWithoutCa: true }))
          .thingName,
        'car-1',
      );
    });
  });
}
