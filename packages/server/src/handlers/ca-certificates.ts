import { type X509Certificate as NodeX509, randomUUID } from 'node:crypto';
import { type Clock, invalidRequest, OtterError } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import { certificateIdOf, deviceCaFor } from '../services/device-ca.js';
import type {
  AutoRegistrationStatus,
  CaCertificateRecord,
  CaCertificateStatus,
  RegistrationConfig,
} from '../store/ca-certificate-store.js';
import type { CertificateMode, RegistryStore } from '../store/index.js';
import {
  certificateSummary,
  checkValidity,
  decodeMarker,
  encodeMarker,
  normalizedPem,
  parseCaCertificate,
  parseCertificate,
} from './certificates.js';
import { seconds } from './paging.js';

const caArn = (ctx: AwsContext, id: string) => ctx.arn(`cacert/${id}`);

/** The subject's CN values as node:crypto lists them (`CN=…` lines). */
const commonNames = (cert: NodeX509): string[] =>
  cert.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));

const describe = (c: CaCertificateRecord, ctx: AwsContext) => ({
  certificateArn: caArn(ctx, c.certificateId),
  certificateId: c.certificateId,
  status: c.status,
  certificatePem: c.certificatePem,
  ownedBy: ctx.accountId,
  creationDate: seconds(c.createdAt),
  autoRegistrationStatus: c.autoRegistrationStatus,
  lastModifiedDate: seconds(c.updatedAt),
  customerVersion: c.customerVersion,
  generationId: c.generationId,
  validity: { notBefore: seconds(c.notBefore), notAfter: seconds(c.notAfter) },
  certificateMode: c.certificateMode,
});

/**
 * CA certificates (bring your own device CA): AWS IoT's registration code, RegisterCACertificate and
 * the operations on registered CAs. Device certificates they signed are registered with
 * RegisterCertificate (certificates.ts); devices are refused while their CA is INACTIVE
 * (services/device-identity.ts).
 */
export function caCertificateHandlers(store: RegistryStore, clock: Clock): Record<string, AwsHandler> {
  // Resolved lazily: building the handlers must not touch the store.
  const cas = () => store.certificates.caCertificates;

  return {
    GetRegistrationCode: async () => ({ registrationCode: await cas().registrationCode() }),

    RegisterCACertificate: async (
      input: {
        caCertificate: string;
        verificationCertificate?: string;
        setAsActive?: boolean;
        allowAutoRegistration?: boolean;
        registrationConfig?: RegistrationConfig;
        tags?: { Key: string; Value?: string }[];
        certificateMode?: CertificateMode;
      },
      ctx,
    ) => {
      const mode = input.certificateMode ?? 'DEFAULT';
      const now = clock.now();
      const caCert = parseCaCertificate(input.caCertificate, now);
      if (mode === 'SNI_ONLY' && input.verificationCertificate !== undefined)
        throw invalidRequest(
          'A CA certificate in SNI_ONLY mode is registered without a verification certificate',
        );
      if (mode === 'DEFAULT') {
        if (input.verificationCertificate === undefined)
          throw invalidRequest(
            'A verification certificate is required in DEFAULT mode: a certificate signed by the CA key whose subject CN is the registration code (GetRegistrationCode)',
          );
        const verification = parseCertificate(input.verificationCertificate, 'verification certificate');
        checkValidity(verification, now, 'verification certificate');
        if (!verification.verify(caCert.publicKey))
          throw new OtterError(
            'CertificateValidationException',
            'The verification certificate is not signed by the CA certificate key',
          );
        const code = await cas().registrationCode();
        if (!commonNames(verification).some((cn) => cn.toLowerCase() === code))
          throw new OtterError(
            'RegistrationCodeValidationException',
            'The subject CN of the verification certificate is not the registration code (GetRegistrationCode)',
          );
      }
      const certificateId = certificateIdOf(caCert.raw);
      if (certificateId === (await deviceCaFor(store.certificates, clock).load()).certificateId)
        throw invalidRequest('This is the Otter device CA, which Otter trusts without registration');
      const record: CaCertificateRecord = {
        certificateId,
        certificatePem: normalizedPem(caCert),
        subject: caCert.subject,
        status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
        certificateMode: mode,
        autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
        ...(input.registrationConfig === undefined ? {} : { registrationConfig: input.registrationConfig }),
        notBefore: Date.parse(caCert.validFrom),
        notAfter: Date.parse(caCert.validTo),
        generationId: randomUUID(),
        customerVersion: 1,
        createdAt: now,
        updatedAt: now,
      };
      const tags = Object.fromEntries((input.tags ?? []).map((t) => [t.Key, t.Value ?? '']));
      await cas().create(record, tags, caArn(ctx, certificateId));
      return { certificateArn: caArn(ctx, certificateId), certificateId };
    },

    DescribeCACertificate: async (input: { certificateId: string }, ctx) => {
      const ca = await cas().describe(input.certificateId);
      return {
        certificateDescription: describe(ca, ctx),
        ...(ca.registrationConfig === undefined ? {} : { registrationConfig: ca.registrationConfig }),
      };
    },

    ListCACertificates: async (
      input: { pageSize?: number; marker?: string; ascendingOrder?: boolean; templateName?: string },
      ctx,
    ) => {
      const page = await cas().list({
        ascending: input.ascendingOrder ?? false,
        after: decodeMarker(input.marker),
        limit: input.pageSize ?? 25,
        templateName: input.templateName,
      });
      return {
        certificates: page.items.map((c) => ({
          certificateArn: caArn(ctx, c.certificateId),
          certificateId: c.certificateId,
          status: c.status,
          creationDate: seconds(c.createdAt),
        })),
        nextMarker: encodeMarker(page.nextToken),
      };
    },

    UpdateCACertificate: async (input: {
      certificateId: string;
      newStatus?: CaCertificateStatus;
      newAutoRegistrationStatus?: AutoRegistrationStatus;
      registrationConfig?: RegistrationConfig;
      removeAutoRegistration?: boolean;
    }) => {
      if (input.removeAutoRegistration && input.registrationConfig !== undefined)
        throw invalidRequest('removeAutoRegistration and registrationConfig cannot be given together');
      await cas().update(
        input.certificateId,
        {
          status: input.newStatus,
          autoRegistrationStatus: input.newAutoRegistrationStatus,
          registrationConfig: input.removeAutoRegistration ? null : input.registrationConfig,
        },
        clock.now(),
      );
      return {};
    },

    DeleteCACertificate: async (input: { certificateId: string }) => {
      await cas().delete(input.certificateId);
      return {};
    },

    /** Any CA id, registered or not (the model declares no ResourceNotFoundException): an unknown one lists nothing. */
    ListCertificatesByCA: async (
      input: { caCertificateId: string; pageSize?: number; marker?: string; ascendingOrder?: boolean },
      ctx,
    ) => {
      const page = await store.certificates.list({
        ascending: input.ascendingOrder ?? false,
        after: decodeMarker(input.marker),
        limit: input.pageSize ?? 25,
        caCertificateId: input.caCertificateId,
      });
      return {
        certificates: page.items.map((c) => certificateSummary(c, ctx)),
        nextMarker: encodeMarker(page.nextToken),
      };
    },
  };
}
