import assert from 'node:assert/strict';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  ListCertificatesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { getCaCertificatePem } from '../services/device-ca.js';
import { makeCa, makeCsr, makeDeviceCert, registerTestCa } from '../services/pki-test-support.js';
import { createDatabase, RegistryStore } from '../store/index.js';
import { rejectsWith as rejects } from '../testing/assertions.js';
import { BACKENDS, startTestServer, type TestServer } from '../testing/test-server.js';

const sha256Hex = (der: Buffer) => createHash('sha256').update(der).digest('hex');

for (const backend of BACKENDS) {
  describe(`certificates and thing principals through @aws-sdk/client-iot (${backend.name})`, {
    skip: backend.skip,
  }, () => {
    let s: TestServer;
    let store: RegistryStore;
    let caPem: string;
    const allIds = async () => {
      const ids: string[] = [];
      let marker: string | undefined;
      do {
        const page = await s.iot.send(new ListCertificatesCommand({ pageSize: 250, marker }));
        ids.push(...page.certificates!.map((c) => c.certificateId!));
        marker = page.nextMarker;
      } while (marker);
      return ids.sort();
    };

    before(async () => {
      s = await startTestServer(backend.name);
      // A second connection to the same database, as another server process would have.
      store = new RegistryStore(await createDatabase(s.server.config.databaseUrl, s.server.config.dataDir));
    });
    after(async () => {
      await store?.close();
      await s?.close();
    });

    test('CreateKeysAndCertificate: a P-256 key pair and a certificate from the Otter CA', async () => {
      const out = await s.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      const cert = new X509Certificate(out.certificatePem!);
      assert.equal(out.certificateId, sha256Hex(cert.raw));
      assert.equal(out.certificateArn, `arn:aws:iot:${s.region}:123456789012:cert/${out.certificateId}`);
      assert.match(out.keyPair!.PrivateKey!, /^-----BEGIN PRIVATE KEY-----/);
      assert.match(out.keyPair!.PublicKey!, /^-----BEGIN PUBLIC KEY-----/);
      const pub = createPublicKey(out.keyPair!.PrivateKey!);
      assert.ok(pub.equals(cert.publicKey));
      assert.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      // The CA the server created is shared through the database.
      caPem = await getCaCertificatePem(store);
      const ca = new X509Certificate(caPem);
      assert.ok(ca.ca);
      assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey));

      const d = (await s.iot.send(new DescribeCertificateCommand({ certificateId: out.certificateId! })))
        .certificateDescription!;
      assert.equal(d.status, 'ACTIVE');
      assert.equal(d.ownedBy, '123456789012');
      assert.equal(d.certificateMode, 'DEFAULT');
      assert.equal(d.caCertificateId, sha256Hex(ca.raw));
      assert.equal(d.certificatePem, out.certificatePem);
      assert.ok(d.creationDate instanceof Date);
      assert.equal(d.validity?.notAfter?.getTime(), Date.parse(cert.validTo));
      assert.equal(d.customerVersion, 1);

      const inactive = await s.iot.send(new CreateKeysAndCertificateCommand({}));
      const di = await s.iot.send(new DescribeCertificateCommand({ certificateId: inactive.certificateId! }));
      assert.equal(di.certificateDescription?.status, 'INACTIVE');
    });

    test('CreateCertificateFromCsr signs verified CSRs (P-256 and RSA-2048), refuses bad ones', async () => {
      for (const kind of ['ec', 'rsa'] as const) {
        const csr = await makeCsr(kind);
        const out = await s.iot.send(
          new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr, setAsActive: true }),
        );
        const cert = new X509Certificate(out.certificatePem!);
        assert.match(cert.subject, /CN=sensor-1/);
        assert.ok(cert.verify(new X509Certificate(caPem).publicKey));
        assert.equal(out.certificateId, sha256Hex(cert.raw));
      }
      const before = await allIds();
      const csr = await makeCsr('ec');
      // Flip one byte of the signature (the last base64 characters of the body).
      const lines = csr.trim().split('\n');
      const last = lines[lines.length - 2]!;
      lines[lines.length - 2] =
        `${last.slice(0, -4)}${last.slice(-4, -3) === 'A' ? 'B' : 'A'}${last.slice(-3)}`;
      for (const bad of ['not a csr', lines.join('\n'), caPem]) {
        await rejects(
          s.iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: bad })),
          'InvalidRequestException',
          400,
        );
      }
      assert.deepEqual(await allIds(), before);
    });

    test('RegisterCertificate: Otter-issued, with a given CA, duplicates and invalid certificates', async () => {
      // An Otter certificate deleted and registered again.
      const made = await s.iot.send(new CreateKeysAndCertificateCommand({}));
      await s.iot.send(new DeleteCertificateCommand({ certificateId: made.certificateId! }));
      const again = await s.iot.send(
        new RegisterCertificateCommand({ certificatePem: made.certificatePem!, setAsActive: true }),
      );
      assert.equal(again.certificateId, made.certificateId);
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: made.certificatePem! })),
        'ResourceAlreadyExistsException',
        409,
      );

      const ca = await makeCa();
      const other = await makeCa('CN=Other CA');
      const pem = await makeDeviceCert(ca);
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: pem })),
        'CertificateValidationException',
        400,
        /not signed by the Otter device CA/,
      );
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: pem, caCertificatePem: other.pem })),
        'CertificateValidationException',
        400,
      );
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: 'garbage' })),
        'CertificateValidationException',
        400,
      );
      const expired = await makeDeviceCert(ca, {
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      });
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: expired, caCertificatePem: ca.pem })),
        'CertificateValidationException',
        400,
        /expired/,
      );
      await rejects(
        s.iot.send(
          new RegisterCertificateCommand({
            certificatePem: pem,
            caCertificatePem: ca.pem,
            status: 'PENDING_TRANSFER',
          }),
        ),
        'InvalidRequestException',
        400,
      );
      await registerTestCa(s.iot, ca); // the CA must be registered (RegisterCACertificate)
      const reg = await s.iot.send(
        new RegisterCertificateCommand({ certificatePem: pem, caCertificatePem: ca.pem, status: 'ACTIVE' }),
      );
      const d = await s.iot.send(new DescribeCertificateCommand({ certificateId: reg.certificateId! }));
      assert.equal(d.certificateDescription?.status, 'ACTIVE');
      assert.equal(d.certificateDescription?.caCertificateId, sha256Hex(new X509Certificate(ca.pem).raw));

      const selfSigned = await makeDeviceCert();
      const noCa = await s.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: selfSigned }));
      const dn = await s.iot.send(new DescribeCertificateCommand({ certificateId: noCa.certificateId! }));
      assert.equal(dn.certificateDescription?.certificateMode, 'SNI_ONLY');
      assert.equal(dn.certificateDescription?.status, 'INACTIVE');
      assert.equal(dn.certificateDescription?.caCertificateId, undefined);
      await rejects(
        s.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: selfSigned })),
        'ResourceAlreadyExistsException',
        409,
      );
    });

    test('ListCertificates pages both ways', async () => {
      const all = await allIds();
      assert.ok(all.length >= 7);
      const walk = async (ascendingOrder: boolean) => {
        const ids: string[] = [];
        let marker: string | undefined;
        do {
          const page = await s.iot.send(new ListCertificatesCommand({ pageSize: 3, marker, ascendingOrder }));
          assert.ok(page.certificates!.length <= 3);
          for (const c of page.certificates!) {
            assert.equal(c.certificateArn, `arn:aws:iot:${s.region}:123456789012:cert/${c.certificateId}`);
            assert.ok(c.creationDate instanceof Date);
          }
          ids.push(...page.certificates!.map((c) => c.certificateId!));
          marker = page.nextMarker;
        } while (marker);
        return ids;
      };
      const asc = await walk(true);
      const desc = await walk(false);
      assert.deepEqual([...asc].sort(), all);
      assert.deepEqual(desc, [...asc].reverse());
      await rejects(
        s.iot.send(new ListCertificatesCommand({ marker: 'bm90LWEta2V5' })),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(new ListCertificatesCommand({ pageSize: 251 })),
        'InvalidRequestException',
        400,
      );
    });

    test('UpdateCertificate: statuses, REVOKED is final, internal statuses refused', async () => {
      const { certificateId } = await s.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      const status = async () =>
        (await s.iot.send(new DescribeCertificateCommand({ certificateId: certificateId! })))
          .certificateDescription!;
      await s.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
      assert.equal((await status()).status, 'INACTIVE');
      assert.equal((await status()).customerVersion, 2);
      await s.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' }));
      await rejects(
        s.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'PENDING_TRANSFER' })),
        'InvalidRequestException',
        400,
      );
      await s.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
      await s.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
      await rejects(
        s.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' })),
        'CertificateStateException',
        406,
      );
      assert.equal((await status()).status, 'REVOKED');
      await rejects(
        s.iot.send(new UpdateCertificateCommand({ certificateId: 'a'.repeat(64), newStatus: 'ACTIVE' })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new DescribeCertificateCommand({ certificateId: 'xyz' })),
        'InvalidRequestException',
        400,
      );
      // A revoked certificate is not ACTIVE: it can be deleted.
      await s.iot.send(new DeleteCertificateCommand({ certificateId }));
    });

    test('thing principals: attach, list both ways, exclusive, delete rules', async () => {
      const cert = await s.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      const arn = cert.certificateArn!;
      for (const t of ['dev-a', 'dev-b', 'dev-c']) await s.iot.send(new CreateThingCommand({ thingName: t }));
      await s.iot.send(new AttachThingPrincipalCommand({ thingName: 'dev-b', principal: arn }));
      await s.iot.send(new AttachThingPrincipalCommand({ thingName: 'dev-a', principal: arn }));
      await s.iot.send(new AttachThingPrincipalCommand({ thingName: 'dev-a', principal: arn })); // idempotent
      const things: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await s.iot.send(
          new ListPrincipalThingsCommand({ principal: arn, maxResults: 1, nextToken }),
        );
        things.push(...page.things!);
        nextToken = page.nextToken;
      } while (nextToken);
      assert.deepEqual(things, ['dev-a', 'dev-b']);
      const principals = await s.iot.send(new ListThingPrincipalsCommand({ thingName: 'dev-a' }));
      assert.deepEqual(principals.principals, [arn]);

      // Exclusive attachment: refused while attached elsewhere, then blocks other things.
      await rejects(
        s.iot.send(
          new AttachThingPrincipalCommand({
            thingName: 'dev-c',
            principal: arn,
            thingPrincipalType: 'EXCLUSIVE_THING',
          }),
        ),
        'InvalidRequestException',
        400,
      );
      const solo = await s.iot.send(new CreateKeysAndCertificateCommand({}));
      await s.iot.send(
        new AttachThingPrincipalCommand({
          thingName: 'dev-c',
          principal: solo.certificateArn!,
          thingPrincipalType: 'EXCLUSIVE_THING',
        }),
      );
      await rejects(
        s.iot.send(new AttachThingPrincipalCommand({ thingName: 'dev-a', principal: solo.certificateArn! })),
        'InvalidRequestException',
        400,
        /exclusively attached to thing dev-c/,
      );

      // Bad principals and things.
      await rejects(
        s.iot.send(
          new AttachThingPrincipalCommand({
            thingName: 'dev-a',
            principal: 'arn:aws:iam::123456789012:user/x',
          }),
        ),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(
          new AttachThingPrincipalCommand({
            thingName: 'dev-a',
            principal: `arn:aws:iot:${s.region}:123456789012:cert/${'b'.repeat(64)}`,
          }),
        ),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new AttachThingPrincipalCommand({ thingName: 'missing', principal: arn })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new ListThingPrincipalsCommand({ thingName: 'missing' })),
        'ResourceNotFoundException',
        404,
      );

      // Deleting: an attached thing and an active or attached certificate are refused.
      await rejects(
        s.iot.send(new DeleteThingCommand({ thingName: 'dev-a' })),
        'InvalidRequestException',
        400,
        /still attached to one or more principals/,
      );
      await rejects(
        s.iot.send(new DeleteCertificateCommand({ certificateId: cert.certificateId! })),
        'CertificateStateException',
        406,
      );
      await s.iot.send(
        new UpdateCertificateCommand({ certificateId: cert.certificateId!, newStatus: 'INACTIVE' }),
      );
      await rejects(
        s.iot.send(new DeleteCertificateCommand({ certificateId: cert.certificateId!, forceDelete: true })),
        'DeleteConflictException',
        409,
      );
      await s.iot.send(new DetachThingPrincipalCommand({ thingName: 'dev-a', principal: arn }));
      await s.iot.send(new DetachThingPrincipalCommand({ thingName: 'dev-a', principal: arn })); // idempotent
      await s.iot.send(new DeleteThingCommand({ thingName: 'dev-a' }));
      await s.iot.send(new DetachThingPrincipalCommand({ thingName: 'dev-b', principal: arn }));
      await s.iot.send(new DeleteCertificateCommand({ certificateId: cert.certificateId! }));
      await rejects(
        s.iot.send(new DescribeCertificateCommand({ certificateId: cert.certificateId! })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new ListPrincipalThingsCommand({ principal: arn })),
        'ResourceNotFoundException',
        404,
      );
    });
  });
}
