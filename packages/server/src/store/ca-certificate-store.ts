import { randomBytes } from 'node:crypto';
import { alreadyExists, notFound, OtterError } from '@otter/core';
import { lockCertificateRow, type Page, pageByCreation, parseJson } from './records.js';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from './sql/sql-database.js';

export type CaCertificateStatus = 'ACTIVE' | 'INACTIVE';
export type AutoRegistrationStatus = 'ENABLE' | 'DISABLE';

/** RegisterCACertificate's `registrationConfig` (just-in-time provisioning; stored, not acted on). */
export interface RegistrationConfig {
  templateBody?: string;
  roleArn?: string;
  templateName?: string;
}

/** A CA certificate registered with RegisterCACertificate. Timestamps are epoch milliseconds. */
export interface CaCertificateRecord {
  /** Hex SHA-256 of the DER, lower case (64 characters). */
  certificateId: string;
  certificatePem: string;
  /** The subject as node:crypto formats it: device certificates whose `issuer` equals it are looked up by it. */
  subject: string;
  status: CaCertificateStatus;
  certificateMode: 'DEFAULT' | 'SNI_ONLY';
  autoRegistrationStatus: AutoRegistrationStatus;
  registrationConfig?: RegistrationConfig;
  notBefore: number;
  notAfter: number;
  generationId: string;
  customerVersion: number;
  createdAt: number;
  updatedAt: number;
}

/** What UpdateCACertificate may change; `registrationConfig: null` removes it. */
export interface CaCertificateChanges {
  status?: CaCertificateStatus | undefined;
  autoRegistrationStatus?: AutoRegistrationStatus | undefined;
  registrationConfig?: RegistrationConfig | null | undefined;
}

export interface ListCaCertificatesRequest {
  ascending: boolean;
  /** `<createdAt>:<certificateId>` of the last CA of the previous page. */
  after?: string | undefined;
  limit: number;
  /** Only CAs whose registration config names this provisioning template. */
  templateName?: string | undefined;
}

interface CaCertificateRow {
  certificate_id: string;
  certificate_pem: string;
  subject: string;
  status: string;
  certificate_mode: string;
  auto_registration_status: string;
  registration_config: string | null;
  template_name: string | null;
  not_before: number;
  not_after: number;
  generation_id: string;
  customer_version: number;
  created_at: number;
  updated_at: number;
}

const rowToCa = (r: CaCertificateRow): CaCertificateRecord => ({
  certificateId: r.certificate_id,
  certificatePem: r.certificate_pem,
  subject: r.subject,
  status: r.status as CaCertificateStatus,
  certificateMode: r.certificate_mode as CaCertificateRecord['certificateMode'],
  autoRegistrationStatus: r.auto_registration_status as AutoRegistrationStatus,
  ...(r.registration_config === null
    ? {}
    : { registrationConfig: parseJson<RegistrationConfig>(r.registration_config) }),
  notBefore: Number(r.not_before),
  notAfter: Number(r.not_after),
  generationId: r.generation_id,
  customerVersion: Number(r.customer_version),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/** Tags of a CA certificate live in `tags` under this resource type (ARN `cacert/ID`). */
export const CA_CERTIFICATE_TAG_TYPE = 'caCertificate';

const REGISTRATION_CODE_KEY = 'iot.registrationCode';

export const caCertificateNotFound = (id: string) => notFound(`The CA certificate ${id} does not exist.`);

/**
 * CA certificates (bring your own device CA) and the account's registration code. Device
 * certificates name their CA in `certificates.ca_certificate_id`; the CA row is locked (a no-op
 * UPDATE) by whoever registers such a certificate or deletes the CA, so the two serialize.
 */
export class CaCertificateStore {
  constructor(private readonly db: SqlDatabase) {}

  /** The account's registration code (64 hex characters): created once, race-safe, then always the same. */
  async registrationCode(): Promise<string> {
    await this.db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [
      REGISTRATION_CODE_KEY,
      JSON.stringify(randomBytes(32).toString('hex')),
    ]);
    const row = await this.db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [
      REGISTRATION_CODE_KEY,
    ]);
    if (!row) throw new Error('registration code missing right after insert');
    return parseJson<string>(row.value);
  }

  /** Stores a new CA and its tags; the same CA twice is ResourceAlreadyExistsException. */
  async create(record: CaCertificateRecord, tags: Record<string, string>, arn: string): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO ca_certificates (certificate_id, certificate_pem, subject, status, certificate_mode,
             auto_registration_status, registration_config, template_name, not_before, not_after,
             generation_id, customer_version, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            record.certificateId,
            record.certificatePem,
            record.subject,
            record.status,
            record.certificateMode,
            record.autoRegistrationStatus,
            record.registrationConfig === undefined ? null : JSON.stringify(record.registrationConfig),
            record.registrationConfig?.templateName ?? null,
            record.notBefore,
            record.notAfter,
            record.generationId,
            record.customerVersion,
            record.createdAt,
            record.updatedAt,
          ],
        );
        for (const [key, value] of Object.entries(tags))
          await tx.run(
            `INSERT INTO tags (resource_type, resource_name, key, value) VALUES (?, ?, ?, ?)
             ON CONFLICT (resource_type, resource_name, key) DO UPDATE SET value = excluded.value`,
            [CA_CERTIFICATE_TAG_TYPE, record.certificateId, key, value],
          );
      });
    } catch (error) {
      if (error instanceof UniqueViolation)
        throw alreadyExists('The CA certificate is already registered', record.certificateId, arn);
      throw error;
    }
  }

  async get(certificateId: string): Promise<CaCertificateRecord | undefined> {
    const row = await this.db.get<CaCertificateRow>(
      'SELECT * FROM ca_certificates WHERE certificate_id = ?',
      [certificateId.toLowerCase()],
    );
    return row && rowToCa(row);
  }

  async describe(certificateId: string): Promise<CaCertificateRecord> {
    const ca = await this.get(certificateId);
    if (!ca) throw caCertificateNotFound(certificateId);
    return ca;
  }

  /** CAs whose subject is `subject` (node:crypto's formatting), for certificates registered without naming their CA. */
  async withSubject(subject: string): Promise<CaCertificateRecord[]> {
    const rows = await this.db.all<CaCertificateRow>(
      'SELECT * FROM ca_certificates WHERE subject = ? ORDER BY certificate_id',
      [subject],
    );
    return rows.map(rowToCa);
  }

  /** Newest first unless `ascending`; ties on creation time by id. */
  async list(request: ListCaCertificatesRequest): Promise<Page<CaCertificateRecord>> {
    const where =
      request.templateName === undefined ? undefined : (['template_name', request.templateName] as const);
    return pageByCreation(this.db, 'ca_certificates', where, request, rowToCa);
  }

  /** Applies the changes that differ; customerVersion and lastModifiedDate move only then. */
  async update(certificateId: string, changes: CaCertificateChanges, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const ca = await lockCaCertificate(tx, certificateId);
      const status = changes.status ?? ca.status;
      const auto = changes.autoRegistrationStatus ?? ca.autoRegistrationStatus;
      const config =
        changes.registrationConfig === undefined
          ? ca.registrationConfig
          : (changes.registrationConfig ?? undefined);
      const same =
        status === ca.status &&
        auto === ca.autoRegistrationStatus &&
        JSON.stringify(config) === JSON.stringify(ca.registrationConfig);
      if (same) return;
      await tx.run(
        `UPDATE ca_certificates SET status = ?, auto_registration_status = ?, registration_config = ?,
           template_name = ?, customer_version = customer_version + 1, updated_at = ?
         WHERE certificate_id = ?`,
        [
          status,
          auto,
          config === undefined ? null : JSON.stringify(config),
          config?.templateName ?? null,
          now,
          ca.certificateId,
        ],
      );
    });
  }

  /**
   * Deletes a CA and its tags. Refused (CertificateStateException) while it is ACTIVE or while
   * device certificates it signed are registered.
   */
  async delete(certificateId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const ca = await lockCaCertificate(tx, certificateId);
      if (ca.status === 'ACTIVE')
        throw new OtterError(
          'CertificateStateException',
          `CA certificate ${ca.certificateId} is ACTIVE; deactivate it (UpdateCACertificate) before deleting it`,
        );
      const signed = await tx.get('SELECT 1 AS x FROM certificates WHERE ca_certificate_id = ? LIMIT 1', [
        ca.certificateId,
      ]);
      if (signed)
        throw new OtterError(
          'CertificateStateException',
          `CA certificate ${ca.certificateId} still has registered certificates it signed; delete them first`,
        );
      await tx.run('DELETE FROM tags WHERE resource_type = ? AND resource_name = ?', [
        CA_CERTIFICATE_TAG_TYPE,
        ca.certificateId,
      ]);
      await tx.run('DELETE FROM ca_certificates WHERE certificate_id = ?', [ca.certificateId]);
    });
  }
}

/** Reads a CA certificate and takes its row lock for the rest of the transaction. */
export async function lockCaCertificate(
  tx: SqlExecutor,
  certificateId: string,
): Promise<CaCertificateRecord> {
  const row = await lockCertificateRow<CaCertificateRow>(tx, 'ca_certificates', certificateId);
  if (!row) throw caCertificateNotFound(certificateId);
  return rowToCa(row);
}
