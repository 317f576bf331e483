import { X509Certificate as NodeX509, randomUUID } from 'node:crypto';
import { type Clock, invalidRequest, OtterError } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import { certificateIdOf, type DeviceCa, deviceCaFor, toPem, x509Crypto } from '../services/device-ca.js';
import * as x509 from '../services/x509.js';
import type {
  CertificateMode,
  CertificateRecord,
  CertificateStatus,
  RegistryStore,
  ThingPrincipalType,
} from '../store/index.js';
import { decodeToken, encodeToken, pageSize, seconds } from './paging.js';

/** Subject of certificates Otter generates the key for (AWS uses "AWS IoT Certificate"). */
const GENERATED_SUBJECT = 'CN=Otter Device Certificate';

const certArn = (ctx: AwsContext, id: string) => ctx.arn(`cert/${id}`);

/** A certificate ARN of this account (any region) → its id; other principals are not supported. */
export function certificateIdFromPrincipal(principal: string, accountId: string): string {
  const m = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:(\d{12}):cert\/([0-9a-fA-F]{64})$/.exec(principal);
  if (!m || m[1] !== accountId)
    throw invalidRequest(
      `The principal '${principal.slice(0, 200)}' is not a certificate ARN of account ${accountId}; Otter supports only certificate principals`,
    );
  return m[2]!.toLowerCase();
}

export function parseCertificate(pem: string, what = 'certificate'): NodeX509 {
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new OtterError(
      'CertificateValidationException',
      `The ${what} is not a PEM-encoded X.509 certificate`,
    );
  try {
    return new NodeX509(pem);
  } catch {
    throw new OtterError('CertificateValidationException', `The ${what} could not be parsed`);
  }
}

/** The first PEM block only, normalized; what AWS stores and returns. */
export const normalizedPem = (cert: NodeX509): string =>
  toPem('CERTIFICATE', new Uint8Array(cert.raw).buffer);

export function checkValidity(cert: NodeX509, now: number, what = 'certificate'): void {
  if (Date.parse(cert.validTo) < now)
    throw new OtterError('CertificateValidationException', `The ${what} has expired`);
  if (Date.parse(cert.validFrom) > now)
    throw new OtterError('CertificateValidationException', `The ${what} is not yet valid`);
}

/** A CA certificate given in a request: parsed, within its validity, and a CA (basicConstraints). */
export function parseCaCertificate(pem: string, now: number): NodeX509 {
  const caCert = parseCertificate(pem, 'CA certificate');
  checkValidity(caCert, now, 'CA certificate');
  if (!caCert.ca)
    throw new OtterError(
      'CertificateValidationException',
      'The CA certificate is not a CA (basicConstraints)',
    );
  return caCert;
}

function registrationStatus(setAsActive: boolean | undefined, status: CertificateStatus | undefined) {
  if (status !== undefined && !['ACTIVE', 'INACTIVE', 'REVOKED'].includes(status))
    throw invalidRequest(`A certificate cannot be registered with status ${status}`);
  if (setAsActive === true && status !== undefined && status !== 'ACTIVE')
    throw invalidRequest(`setAsActive conflicts with status ${status}`);
  return setAsActive === true ? 'ACTIVE' : (status ?? 'INACTIVE');
}

function record(
  cert: NodeX509,
  status: CertificateStatus,
  mode: CertificateMode,
  caCertificateId: string | undefined,
  now: number,
): CertificateRecord {
  return {
    certificateId: certificateIdOf(cert.raw),
    certificatePem: normalizedPem(cert),
    status,
    ...(caCertificateId === undefined ? {} : { caCertificateId }),
    certificateMode: mode,
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    generationId: randomUUID(),
    customerVersion: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/** A certificate as ListCertificates and ListCertificatesByCA list it. */
export const certificateSummary = (c: CertificateRecord, ctx: AwsContext) => ({
  certificateArn: certArn(ctx, c.certificateId),
  certificateId: c.certificateId,
  status: c.status,
  certificateMode: c.certificateMode,
  creationDate: seconds(c.createdAt),
});

const describe = (c: CertificateRecord, ctx: AwsContext) => ({
  certificateArn: certArn(ctx, c.certificateId),
  certificateId: c.certificateId,
  caCertificateId: c.caCertificateId,
  status: c.status,
  certificatePem: c.certificatePem,
  ownedBy: ctx.accountId,
  creationDate: seconds(c.createdAt),
  lastModifiedDate: seconds(c.updatedAt),
  customerVersion: c.customerVersion,
  generationId: c.generationId,
  validity: { notBefore: seconds(c.notBefore), notAfter: seconds(c.notAfter) },
  certificateMode: c.certificateMode,
});

/** ListCertificates markers follow the model's base64 pattern (standard alphabet). */
export const encodeMarker = (key: string | undefined) =>
  key === undefined ? undefined : Buffer.from(key, 'utf8').toString('base64');

export function decodeMarker(marker: string | undefined): string | undefined {
  if (marker === undefined) return undefined;
  const key = Buffer.from(marker, 'base64').toString('utf8');
  if (!/^\d+:[0-9a-f]{64}$/.test(key))
    throw invalidRequest(`The marker '${marker.slice(0, 80)}' is not valid`);
  return key;
}

/** Certificates (device identity) and their attachment to things: AWS IoT operations. */
export function certificateHandlers(store: RegistryStore, clock: Clock): Record<string, AwsHandler> {
  // Resolved lazily: building the handlers must not touch the database.
  const ca = (): DeviceCa => deviceCaFor(store.certificates, clock);

  const save = async (rec: CertificateRecord, ctx: AwsContext) => {
    await store.certificates.create(rec, certArn(ctx, rec.certificateId));
    return { certificateArn: certArn(ctx, rec.certificateId), certificateId: rec.certificateId };
  };

  /** The registered CA that signed `cert` (issuer name and signature), when RegisterCertificate names none. */
  const registeredIssuer = async (cert: NodeX509): Promise<string> => {
    const signers = (await store.certificates.caCertificates.withSubject(cert.issuer)).filter((c) => {
      const caCert = new NodeX509(c.certificatePem);
      return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
    });
    if (signers.length === 0)
      throw new OtterError(
        'CertificateValidationException',
        'The certificate is not signed by the Otter device CA nor by a registered CA certificate; pass caCertificatePem, register its CA (RegisterCACertificate) or use RegisterCertificateWithoutCA',
      );
    if (signers.length > 1)
      throw new OtterError(
        'CertificateConflictException',
        'Several registered CA certificates with the same subject and key could have signed the certificate; pass caCertificatePem',
      );
    return signers[0]!.certificateId;
  };

  const issued = async (cert: x509.X509Certificate, setAsActive: boolean | undefined, ctx: AwsContext) => {
    const node = new NodeX509(Buffer.from(cert.rawData));
    const caId = (await ca().load()).certificateId;
    const rec = record(node, setAsActive ? 'ACTIVE' : 'INACTIVE', 'DEFAULT', caId, clock.now());
    return { ...(await save(rec, ctx)), certificatePem: rec.certificatePem };
  };

  return {
    CreateKeysAndCertificate: async (input: { setAsActive?: boolean }, ctx) => {
      const made = await ca().issueWithKeys(GENERATED_SUBJECT);
      const out = await issued(made.certificate, input.setAsActive, ctx);
      return { ...out, keyPair: { PublicKey: made.publicKeyPem, PrivateKey: made.privateKeyPem } };
    },

    CreateCertificateFromCsr: async (
      input: { certificateSigningRequest: string; setAsActive?: boolean },
      ctx,
    ) => {
      x509Crypto();
      let csr: x509.Pkcs10CertificateRequest;
      try {
        csr = new x509.Pkcs10CertificateRequest(input.certificateSigningRequest.trim());
      } catch {
        throw invalidRequest('The certificate signing request is not a valid PEM-encoded PKCS#10 request');
      }
      let valid = false;
      try {
        valid = await csr.verify();
      } catch {
        // An unsupported key or signature algorithm cannot be verified: refuse it.
      }
      if (!valid)
        throw invalidRequest(
          'The certificate signing request signature does not verify (or its key type is not supported)',
        );
      const subject = csr.subjectName.toString() === '' ? GENERATED_SUBJECT : csr.subjectName;
      const cert = await ca().issue(csr.publicKey, subject);
      return issued(cert, input.setAsActive, ctx);
    },

    RegisterCertificate: async (
      input: {
        certificatePem: string;
        caCertificatePem?: string;
        setAsActive?: boolean;
        status?: CertificateStatus;
      },
      ctx,
    ) => {
      const status = registrationStatus(input.setAsActive, input.status);
      const cert = parseCertificate(input.certificatePem);
      const now = clock.now();
      checkValidity(cert, now);
      const otterCaId = (await ca().load()).certificateId;
      let caId: string;
      if (input.caCertificatePem !== undefined) {
        const caCert = parseCaCertificate(input.caCertificatePem, now);
        if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey))
          throw new OtterError(
            'CertificateValidationException',
            'The certificate is not signed by the given CA certificate',
          );
        caId = certificateIdOf(caCert.raw);
      } else if (await ca().issued(cert)) {
        caId = otterCaId;
      } else {
        caId = await registeredIssuer(cert);
      }
      if (caId === otterCaId) return save(record(cert, status, 'DEFAULT', caId, now), ctx);
      // A CA of the account's own: registered (and ACTIVE, checked again under its row lock); the
      // certificate takes the CA's mode, as on AWS.
      const registered = await store.certificates.caCertificates.get(caId);
      const mode = registered?.certificateMode ?? 'DEFAULT';
      const rec = record(cert, status, mode, caId, now);
      await store.certificates.create(rec, certArn(ctx, rec.certificateId), { registeredCa: true });
      return { certificateArn: certArn(ctx, rec.certificateId), certificateId: rec.certificateId };
    },

    RegisterCertificateWithoutCA: async (
      input: { certificatePem: string; status?: CertificateStatus },
      ctx,
    ) => {
      const status = registrationStatus(undefined, input.status);
      const cert = parseCertificate(input.certificatePem);
      const now = clock.now();
      checkValidity(cert, now);
      return save(record(cert, status, 'SNI_ONLY', undefined, now), ctx);
    },

    DescribeCertificate: async (input: { certificateId: string }, ctx) => ({
      certificateDescription: describe(await store.certificates.describe(input.certificateId), ctx),
    }),

    ListCertificates: async (
      input: { pageSize?: number; marker?: string; ascendingOrder?: boolean },
      ctx,
    ) => {
      const page = await store.certificates.list({
        ascending: input.ascendingOrder ?? false,
        after: decodeMarker(input.marker),
        limit: input.pageSize ?? 25,
      });
      return {
        certificates: page.items.map((c) => certificateSummary(c, ctx)),
        nextMarker: encodeMarker(page.nextToken),
      };
    },

    UpdateCertificate: async (input: { certificateId: string; newStatus: CertificateStatus }) => {
      await store.certificates.updateStatus(input.certificateId, input.newStatus, clock.now());
      return {};
    },

    /** `forceDelete` concerns attached policies, which Otter does not have: it changes nothing. */
    DeleteCertificate: async (input: { certificateId: string; forceDelete?: boolean }) => {
      await store.certificates.delete(input.certificateId);
      return {};
    },

    AttachThingPrincipal: async (
      input: { thingName: string; principal: string; thingPrincipalType?: ThingPrincipalType },
      ctx,
    ) => {
      const id = certificateIdFromPrincipal(input.principal, ctx.accountId);
      await store.certificates.attach(
        input.thingName,
        id,
        input.thingPrincipalType ?? 'NON_EXCLUSIVE_THING',
        clock.now(),
      );
      return {};
    },

    DetachThingPrincipal: async (input: { thingName: string; principal: string }, ctx) => {
      await store.certificates.detach(
        input.thingName,
        certificateIdFromPrincipal(input.principal, ctx.accountId),
      );
      return {};
    },

    ListThingPrincipals: async (
      input: { thingName: string; maxResults?: number; nextToken?: string },
      ctx,
    ) => {
      const page = await store.certificates.listForThing(input.thingName, {
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 25),
      });
      return {
        principals: page.items.map((id) => certArn(ctx, id)),
        nextToken: encodeToken(page.nextToken),
      };
    },

    ListPrincipalThings: async (
      input: { principal: string; maxResults?: number; nextToken?: string },
      ctx,
    ) => {
      const page = await store.certificates.listThings(
        certificateIdFromPrincipal(input.principal, ctx.accountId),
        { after: decodeToken(input.nextToken), limit: pageSize(input.maxResults, 25) },
      );
      return { things: page.items, nextToken: encodeToken(page.nextToken) };
    },
  };
}
