import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AttachThingPrincipalCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteCACertificateCommand,
  DeleteCertificateCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  GetRegistrationCodeCommand,
  IoTClient,
  ListCACertificatesCommand,
  ListCertificatesByCACommand,
  ListTagsForResourceCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  TagResourceCommand,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { GetPendingJobExecutionsCommand } from '@aws-sdk/client-iot-jobs-data-plane';
import { connectAsync } from 'mqtt';
import {
  deviceClients,
  httpsRequest,
  issueTestCertificate,
} from '../device-plane/device-plane-test-support.js';
import { FREE_PORTS, type RunningServer, startServer } from '../main.js';
import { getCaCertificatePem } from '../services/device-ca.js';
import { identifyDevice } from '../services/device-identity.js';
import {
  makeCa,
  makeDeviceCert,
  makeVerificationCert,
  registerTestCa,
  type TestCa,
} from '../services/pki-test-support.js';
import { rejectsWith as rejects } from '../testing/assertions.js';
import {
  BACKENDS,
  freshPostgresDatabase,
  startTestServer,
  TEST_DATABASE_URL,
  type TestServer,
} from '../testing/test-server.js';

const KEY = { accessKeyId: 'AKIAOTTERTEST0000001', secretAccessKey: 'otter-test-secret-key' };
const REGION = 'eu-west-1';

const idOf = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

for (const backend of BACKENDS) {
  describe(`CA certificates through @aws-sdk/client-iot (${backend.name})`, { skip: backend.skip }, () => {
    let s: TestServer;
    const caIds = async (ascendingOrder?: boolean, pageSize = 250, templateName?: string) => {
      const ids: string[] = [];
      let marker: string | undefined;
      do {
        const page = await s.iot.send(
          new ListCACertificatesCommand({ pageSize, marker, ascendingOrder, templateName }),
        );
        assert.ok(page.certificates!.length <= pageSize);
        ids.push(...page.certificates!.map((c) => c.certificateId!));
        marker = page.nextMarker;
      } while (marker);
      return ids;
    };
    const code = async () => (await s.iot.send(new GetRegistrationCodeCommand({}))).registrationCode!;

    before(async () => {
      s = await startTestServer(backend.name);
    });
    after(async () => {
      await s?.close();
    });

    test('GetRegistrationCode: 64 hex characters, the same every time', async () => {
      const first = await code();
      assert.match(first, /^[0-9a-f]{64}$/);
      assert.equal(await code(), first);
    });

    test('RegisterCACertificate refuses bad input and changes nothing', async () => {
      const ca = await makeCa('CN=Refused CA');
      const other = await makeCa('CN=Other CA');
      const verification = await makeVerificationCert(ca, await code());
      const before = await caIds();
      const register = (input: Partial<ConstructorParameters<typeof RegisterCACertificateCommand>[0]>) =>
        s.iot.send(
          new RegisterCACertificateCommand({
            caCertificate: ca.pem,
            verificationCertificate: verification,
            ...input,
          }),
        );
      await rejects(register({ caCertificate: 'garbage' }), 'CertificateValidationException', 400);
      await rejects(
        register({ caCertificate: await makeDeviceCert() }),
        'CertificateValidationException',
        400,
        /not a CA/,
      );
      await rejects(register({ verificationCertificate: undefined }), 'InvalidRequestException', 400);
      await rejects(
        register({ verificationCertificate: await makeVerificationCert(ca, await code(), other) }),
        'CertificateValidationException',
        400,
        /not signed by the CA/,
      );
      await rejects(
        register({ verificationCertificate: await makeVerificationCert(ca, 'ab'.repeat(32)) }),
        'RegistrationCodeValidationException',
        400,
      );
      await rejects(register({ verificationCertificate: 'garbage' }), 'CertificateValidationException', 400);
      await rejects(register({ certificateMode: 'SNI_ONLY' }), 'InvalidRequestException', 400);
      await rejects(
        register({
          caCertificate: await getCaCertificatePem(s.server.store),
          verificationCertificate: undefined,
          certificateMode: 'SNI_ONLY',
        }),
        'InvalidRequestException',
        400,
        /Otter device CA/,
      );
      assert.deepEqual(await caIds(), before);
      await rejects(
        s.iot.send(new DescribeCACertificateCommand({ certificateId: idOf(ca.pem) })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('RegisterCACertificate, DescribeCACertificate, duplicates, tags', async () => {
      const ca = await makeCa('CN=Fleet CA, O=Example');
      const out = await s.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: ca.pem,
          verificationCertificate: await makeVerificationCert(ca, await code()),
          allowAutoRegistration: true,
          registrationConfig: { templateName: 'fleet-template', templateBody: '{}' },
          tags: [{ Key: 'team', Value: 'ops' }],
        }),
      );
      assert.equal(out.certificateId, idOf(ca.pem));
      assert.equal(out.certificateArn, `arn:aws:iot:${s.region}:123456789012:cacert/${out.certificateId}`);
      const d = await s.iot.send(new DescribeCACertificateCommand({ certificateId: out.certificateId }));
      const desc = d.certificateDescription!;
      assert.equal(desc.certificateArn, out.certificateArn);
      assert.equal(desc.status, 'INACTIVE');
      assert.equal(desc.autoRegistrationStatus, 'ENABLE');
      assert.equal(desc.certificateMode, 'DEFAULT');
      assert.equal(desc.ownedBy, '123456789012');
      assert.equal(desc.customerVersion, 1);
      assert.ok(desc.generationId);
      assert.equal(
        new X509Certificate(desc.certificatePem!).fingerprint256,
        new X509Certificate(ca.pem).fingerprint256,
      );
      assert.equal(desc.validity?.notAfter?.getTime(), Date.parse(new X509Certificate(ca.pem).validTo));
      assert.ok(desc.creationDate instanceof Date);
      assert.deepEqual(d.registrationConfig, { templateName: 'fleet-template', templateBody: '{}' });
      // Tags given at registration, and TagResource / ListTagsForResource on the cacert ARN.
      const tagsOf = async () =>
        (await s.iot.send(new ListTagsForResourceCommand({ resourceArn: out.certificateArn }))).tags;
      assert.deepEqual(await tagsOf(), [{ Key: 'team', Value: 'ops' }]);
      await s.iot.send(
        new TagResourceCommand({ resourceArn: out.certificateArn, tags: [{ Key: 'site', Value: 'lab' }] }),
      );
      assert.deepEqual(
        (await tagsOf())?.sort((a, b) => a.Key!.localeCompare(b.Key!)),
        [
          { Key: 'site', Value: 'lab' },
          { Key: 'team', Value: 'ops' },
        ],
      );
      await rejects(
        s.iot.send(
          new ListTagsForResourceCommand({
            resourceArn: `arn:aws:iot:${s.region}:123456789012:cacert/${'0'.repeat(64)}`,
          }),
        ),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(
          new RegisterCACertificateCommand({
            caCertificate: ca.pem,
            verificationCertificate: await makeVerificationCert(ca, await code()),
          }),
        ),
        'ResourceAlreadyExistsException',
        409,
      );

      const sni = await makeCa('CN=SNI CA');
      const sniOut = await s.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: sni.pem,
          certificateMode: 'SNI_ONLY',
          setAsActive: true,
        }),
      );
      const sd = await s.iot.send(new DescribeCACertificateCommand({ certificateId: sniOut.certificateId }));
      assert.equal(sd.certificateDescription?.certificateMode, 'SNI_ONLY');
      assert.equal(sd.certificateDescription?.status, 'ACTIVE');
      assert.equal(sd.certificateDescription?.autoRegistrationStatus, 'DISABLE');
      assert.equal(sd.registrationConfig, undefined);
    });

    test('ListCACertificates pages both ways and filters by template name', async () => {
      for (let i = 0; i < 4; i++) await registerTestCa(s.iot, await makeCa(`CN=Paged CA ${i}`));
      const all = await caIds();
      assert.ok(all.length >= 6);
      assert.equal(new Set(all).size, all.length);
      assert.deepEqual(await caIds(false, 2), all);
      assert.deepEqual(await caIds(true, 3), [...all].reverse());
      const page = await s.iot.send(new ListCACertificatesCommand({ pageSize: 1 }));
      assert.equal(page.certificates?.[0]?.certificateArn?.endsWith(`:cacert/${all[0]}`), true);
      assert.ok(page.certificates?.[0]?.status);
      assert.ok(page.certificates?.[0]?.creationDate instanceof Date);
      assert.equal((await caIds(undefined, 250, 'fleet-template')).length, 1);
      assert.deepEqual(await caIds(undefined, 250, 'no-such-template'), []);
      await rejects(
        s.iot.send(new ListCACertificatesCommand({ marker: 'bm9wZQ==' })),
        'InvalidRequestException',
        400,
      );
    });

    test('UpdateCACertificate: status, auto-registration, registration config', async () => {
      const ca = await makeCa('CN=Updated CA');
      const id = await registerTestCa(s.iot, ca, false);
      const describe = () => s.iot.send(new DescribeCACertificateCommand({ certificateId: id }));
      await s.iot.send(
        new UpdateCACertificateCommand({
          certificateId: id,
          newStatus: 'ACTIVE',
          newAutoRegistrationStatus: 'ENABLE',
          registrationConfig: { templateName: 'later' },
        }),
      );
      let d = await describe();
      assert.equal(d.certificateDescription?.status, 'ACTIVE');
      assert.equal(d.certificateDescription?.autoRegistrationStatus, 'ENABLE');
      assert.equal(d.certificateDescription?.customerVersion, 2);
      assert.deepEqual(d.registrationConfig, { templateName: 'later' });
      // Nothing different: nothing changes.
      await s.iot.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'ACTIVE' }));
      assert.equal((await describe()).certificateDescription?.customerVersion, 2);
      await s.iot.send(new UpdateCACertificateCommand({ certificateId: id, removeAutoRegistration: true }));
      d = await describe();
      assert.equal(d.registrationConfig, undefined);
      assert.equal(d.certificateDescription?.customerVersion, 3);
      await rejects(
        s.iot.send(
          new UpdateCACertificateCommand({
            certificateId: id,
            removeAutoRegistration: true,
            registrationConfig: { templateName: 'x' },
          }),
        ),
        'InvalidRequestException',
        400,
      );
      await rejects(
        s.iot.send(new UpdateCACertificateCommand({ certificateId: 'f'.repeat(64), newStatus: 'INACTIVE' })),
        'ResourceNotFoundException',
        404,
      );
    });

    test('RegisterCertificate needs a registered, ACTIVE CA; ListCertificatesByCA; DeleteCACertificate', async () => {
      const ca = await makeCa('CN=Device CA');
      const pem = await makeDeviceCert(ca);
      // Not registered: refused, with or without naming the CA.
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: pem, caCertificatePem: ca.pem })),
        'CertificateValidationException',
        400,
        /not registered/,
      );
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: pem })),
        'CertificateValidationException',
        400,
      );
      const caId = await registerTestCa(s.iot, ca, false);
      await rejects(
        s.iot.send(new RegisterCertificateCommand({ certificatePem: pem, caCertificatePem: ca.pem })),
        'CertificateStateException',
        406,
      );
      await s.iot.send(new UpdateCACertificateCommand({ certificateId: caId, newStatus: 'ACTIVE' }));
      // Named, or found by its issuer name and signature.
      const named = await s.iot.send(
        new RegisterCertificateCommand({ certificatePem: pem, caCertificatePem: ca.pem, status: 'ACTIVE' }),
      );
      const found = await s.iot.send(
        new RegisterCertificateCommand({ certificatePem: await makeDeviceCert(ca) }),
      );
      for (const id of [named.certificateId!, found.certificateId!]) {
        const d = await s.iot.send(new DescribeCertificateCommand({ certificateId: id }));
        assert.equal(d.certificateDescription?.caCertificateId, caId);
        assert.equal(d.certificateDescription?.certificateMode, 'DEFAULT');
      }
      // A certificate of an SNI_ONLY CA is registered in SNI_ONLY mode.
      const sni = await makeCa('CN=SNI device CA');
      await s.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: sni.pem,
          certificateMode: 'SNI_ONLY',
          setAsActive: true,
        }),
      );
      const sniCert = await s.iot.send(
        new RegisterCertificateCommand({
          certificatePem: await makeDeviceCert(sni),
          caCertificatePem: sni.pem,
        }),
      );
      const sd = await s.iot.send(new DescribeCertificateCommand({ certificateId: sniCert.certificateId }));
      assert.equal(sd.certificateDescription?.certificateMode, 'SNI_ONLY');

      // ListCertificatesByCA pages both ways; an unknown CA lists nothing.
      for (let i = 0; i < 3; i++)
        await s.iot.send(new RegisterCertificateCommand({ certificatePem: await makeDeviceCert(ca) }));
      const byCa = async (ascendingOrder: boolean) => {
        const ids: string[] = [];
        let marker: string | undefined;
        do {
          const page = await s.iot.send(
            new ListCertificatesByCACommand({ caCertificateId: caId, pageSize: 2, marker, ascendingOrder }),
          );
          assert.ok(page.certificates!.length <= 2);
          for (const c of page.certificates!) {
            assert.equal(c.certificateArn, `arn:aws:iot:${s.region}:123456789012:cert/${c.certificateId}`);
            assert.ok(c.status && c.certificateMode && c.creationDate);
          }
          ids.push(...page.certificates!.map((c) => c.certificateId!));
          marker = page.nextMarker;
        } while (marker);
        return ids;
      };
      const listed = await byCa(false);
      assert.equal(listed.length, 5);
      assert.ok(listed.includes(named.certificateId!) && listed.includes(found.certificateId!));
      assert.deepEqual(await byCa(true), [...listed].reverse());
      const none = await s.iot.send(new ListCertificatesByCACommand({ caCertificateId: 'e'.repeat(64) }));
      assert.deepEqual(none.certificates, []);

      // DeleteCACertificate: refused while ACTIVE, then while certificates it signed remain.
      await rejects(
        s.iot.send(new DeleteCACertificateCommand({ certificateId: caId })),
        'CertificateStateException',
        406,
        /ACTIVE/,
      );
      await s.iot.send(new UpdateCACertificateCommand({ certificateId: caId, newStatus: 'INACTIVE' }));
      await rejects(
        s.iot.send(new DeleteCACertificateCommand({ certificateId: caId })),
        'CertificateStateException',
        406,
        /registered certificates/,
      );
      await s.iot.send(
        new UpdateCertificateCommand({ certificateId: named.certificateId, newStatus: 'INACTIVE' }),
      );
      for (const id of listed) await s.iot.send(new DeleteCertificateCommand({ certificateId: id }));
      await s.iot.send(new DeleteCACertificateCommand({ certificateId: caId }));
      await rejects(
        s.iot.send(new DescribeCACertificateCommand({ certificateId: caId })),
        'ResourceNotFoundException',
        404,
      );
      await rejects(
        s.iot.send(new DeleteCACertificateCommand({ certificateId: caId })),
        'ResourceNotFoundException',
        404,
      );
    });
  });

  describe(`devices with certificates of a registered CA (${backend.name})`, { skip: backend.skip }, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'otter-ca-devices-'));
    let database: { url: string; drop(): Promise<void> } | undefined;
    let server: RunningServer;
    let iot: IoTClient;
    let ca: TestCa;
    let caId: string;
    let device: { cert: string; key: string };
    let otterCa: string;
    const setCa = (newStatus: 'ACTIVE' | 'INACTIVE') =>
      iot.send(new UpdateCACertificateCommand({ certificateId: caId, newStatus }));

    before(async () => {
      if (backend.name === 'postgres') database = await freshPostgresDatabase(TEST_DATABASE_URL!);
      server = await startServer({
        env: {},
        logger: false,
        overrides: {
          ...FREE_PORTS,
          mqttWsPort: -1,
          mqttTlsPort: 0,
          dataDir,
          schedulerIntervalMs: 0,
          ...KEY,
          ...(database ? { databaseUrl: database.url } : {}),
        },
      });
      iot = new IoTClient({ endpoint: server.url, region: REGION, credentials: KEY, maxAttempts: 1 });
      otterCa = await getCaCertificatePem(server.store);
      ca = await makeCa('CN=Factory CA');
      caId = await registerTestCa(iot, ca);
      device = await issueTestCertificate(ca);
      const reg = await iot.send(
        new RegisterCertificateCommand({
          certificatePem: device.cert,
          caCertificatePem: ca.pem,
          status: 'ACTIVE',
        }),
      );
      await iot.send(new CreateThingCommand({ thingName: 'factory-1' }));
      await iot.send(
        new AttachThingPrincipalCommand({ thingName: 'factory-1', principal: reg.certificateArn! }),
      );
      await iot.send(
        new CreateJobCommand({
          jobId: 'factory-job',
          targets: [`arn:aws:iot:${REGION}:123456789012:thing/factory-1`],
          document: JSON.stringify({ operation: 'calibrate' }),
        }),
      );
    });
    after(async () => {
      await server?.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('a device reaches its jobs over HTTPS while its CA is ACTIVE, and is refused while it is INACTIVE', async () => {
      const url = server.deviceUrl!;
      const { jobs } = deviceClients(url, otterCa, device);
      const pending = await jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'factory-1' }));
      assert.deepEqual(
        pending.queuedJobs?.map((j) => j.jobId),
        ['factory-job'],
      );
      await setCa('INACTIVE');
      await rejects(
        jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'factory-1' })),
        'UnauthorizedException',
        401,
        /INACTIVE/,
      );
      const raw = await httpsRequest(`${url}/things/factory-1/jobs`, otterCa, device, 'GET');
      assert.equal(raw.status, 401);
      await assert.rejects(identifyDevice(server.store, new X509Certificate(device.cert).raw), {
        reason: 'CA_NOT_ACTIVE',
      });
      await setCa('ACTIVE');
      const again = await jobs.send(new GetPendingJobExecutionsCommand({ thingName: 'factory-1' }));
      assert.equal(again.queuedJobs?.length, 1);
    });

    test('the MQTT TLS listener refuses the device while its CA is INACTIVE', async () => {
      const connect = () =>
        connectAsync(`mqtts://127.0.0.1:${server.mqtt.ports.tls!}`, {
          clientId: 'factory-1',
          ca: otterCa,
          cert: device.cert,
          key: device.key,
          servername: 'localhost',
          reconnectPeriod: 0,
          connectTimeout: 5000,
        });
      await (await connect()).endAsync();
      await setCa('INACTIVE');
      await assert.rejects(connect(), /Bad username or password/);
      await setCa('ACTIVE');
      await (await connect()).endAsync();
    });
  });
}
