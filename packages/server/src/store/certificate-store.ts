import { alreadyExists, invalidRequest, notFound, OtterError } from '@otter/core';
import { CaCertificateStore, lockCaCertificate } from './ca-certificate-store.js';
import { lockCertificateRow, type Page, type PageRequest, pageByCreation, toPage } from './records.js';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from './sql/sql-database.js';
import { thingNotFound } from './thing-store.js';

/** Certificate statuses as the AWS IoT model spells them. */
export const CERTIFICATE_STATUSES = [
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
] as const;
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY';
export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';

/** Timestamps are epoch milliseconds. */
export interface CertificateRecord {
  /** Hex SHA-256 of the DER, lower case (64 characters). */
  certificateId: string;
  certificatePem: string;
  status: CertificateStatus;
  /** Id of the CA that signed it (the Otter device CA or a CA given at registration). */
  caCertificateId?: string;
  certificateMode: CertificateMode;
  notBefore: number;
  notAfter: number;
  generationId: string;
  customerVersion: number;
  createdAt: number;
  updatedAt: number;
}

/** The Otter device CA as kept in the `device_ca` row. */
export interface DeviceCaRecord {
  certificateId: string;
  certificatePem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  createdAt: number;
}

interface CertificateRow {
  certificate_id: string;
  certificate_pem: string;
  status: string;
  ca_certificate_id: string | null;
  certificate_mode: string;
  not_before: number;
  not_after: number;
  generation_id: string;
  customer_version: number;
  created_at: number;
  updated_at: number;
}

const rowToCertificate = (r: CertificateRow): CertificateRecord => ({
  certificateId: r.certificate_id,
  certificatePem: r.certificate_pem,
  status: r.status as CertificateStatus,
  ...(r.ca_certificate_id === null ? {} : { caCertificateId: r.ca_certificate_id }),
  certificateMode: r.certificate_mode as CertificateMode,
  notBefore: Number(r.not_before),
  notAfter: Number(r.not_after),
  generationId: r.generation_id,
  customerVersion: Number(r.customer_version),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export const certificateNotFound = (id: string) => notFound(`The certificate ${id} does not exist.`);

/** Statuses a client may set; PENDING_* are AWS-internal (transfers, JITP) and answer InvalidRequestException. */
const SETTABLE: ReadonlySet<string> = new Set(['ACTIVE', 'INACTIVE', 'REVOKED', 'REGISTER_INACTIVE']);

export interface ListCertificatesRequest {
  ascending: boolean;
  /** `<createdAt>:<certificateId>` of the last certificate of the previous page. */
  after?: string | undefined;
  limit: number;
  /** Only certificates signed by this CA (ListCertificatesByCA). */
  caCertificateId?: string | undefined;
}

/**
 * X.509 certificates, their attachment to things, and the Otter device CA. Rows that change
 * together are locked first (a no-op UPDATE) so attach, detach and delete serialize on PostgreSQL.
 */
export class CertificateStore {
  /** CA certificates registered with RegisterCACertificate, and the registration code. */
  readonly caCertificates: CaCertificateStore;

  constructor(private readonly db: SqlDatabase) {
    this.caCertificates = new CaCertificateStore(db);
  }

  /** Inserts the CA unless another process did first; returns whichever row won. */
  async ensureDeviceCa(candidate: DeviceCaRecord): Promise<DeviceCaRecord> {
    await this.db.run(
      `INSERT INTO device_ca (id, certificate_id, certificate_pem, private_key_pem, created_at)
       VALUES ('default', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      [candidate.certificateId, candidate.certificatePem, candidate.privateKeyPem, candidate.createdAt],
    );
    const ca = await this.getDeviceCa();
    if (!ca) throw new Error('device_ca row missing right after insert');
    return ca;
  }

  async getDeviceCa(): Promise<DeviceCaRecord | undefined> {
    const row = await this.db.get<{
      certificate_id: string;
      certificate_pem: string;
      private_key_pem: string;
      created_at: number;
    }>("SELECT * FROM device_ca WHERE id = 'default'");
    return (
      row && {
        certificateId: row.certificate_id,
        certificatePem: row.certificate_pem,
        privateKeyPem: row.private_key_pem,
        createdAt: Number(row.created_at),
      }
    );
  }

  /**
   * Stores a new certificate; the same certificate twice is ResourceAlreadyExistsException. With
   * `registeredCa`, its `caCertificateId` must name a registered CA (CertificateValidationException)
   * that is ACTIVE (CertificateStateException), checked under the CA's row lock so that
   * DeleteCACertificate cannot remove the CA meanwhile.
   */
  async create(
    record: CertificateRecord,
    arn: string,
    options: { registeredCa?: boolean } = {},
  ): Promise<CertificateRecord> {
    try {
      await this.db.transaction(async (tx) => {
        if (options.registeredCa && record.caCertificateId !== undefined) {
          const ca = await lockCaCertificate(tx, record.caCertificateId).catch((error: unknown) => {
            if (error instanceof OtterError && error.type === 'ResourceNotFoundException')
              throw new OtterError(
                'CertificateValidationException',
                `The CA certificate ${record.caCertificateId} is not registered; register it with RegisterCACertificate first`,
              );
            throw error;
          });
          if (ca.status !== 'ACTIVE')
            throw new OtterError(
              'CertificateStateException',
              `The CA certificate ${ca.certificateId} is ${ca.status}; certificates it signed cannot be registered`,
            );
        }
        await tx.run(
          `INSERT INTO certificates (certificate_id, certificate_pem, status, ca_certificate_id, certificate_mode,
           not_before, not_after, generation_id, customer_version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            record.certificateId,
            record.certificatePem,
            record.status,
            record.caCertificateId ?? null,
            record.certificateMode,
            record.notBefore,
            record.notAfter,
            record.generationId,
            record.customerVersion,
            record.createdAt,
            record.updatedAt,
          ],
        );
      });
      return record;
    } catch (error) {
      if (error instanceof UniqueViolation)
        throw alreadyExists(
          'The certificate is already provisioned or registered',
          record.certificateId,
          arn,
        );
      throw error;
    }
  }

  async get(certificateId: string): Promise<CertificateRecord | undefined> {
    const row = await this.db.get<CertificateRow>('SELECT * FROM certificates WHERE certificate_id = ?', [
      certificateId.toLowerCase(),
    ]);
    return row && rowToCertificate(row);
  }

  async describe(certificateId: string): Promise<CertificateRecord> {
    const cert = await this.get(certificateId);
    if (!cert) throw certificateNotFound(certificateId);
    return cert;
  }

  /** Newest first unless `ascending`; ties on creation time by id. */
  async list(request: ListCertificatesRequest): Promise<Page<CertificateRecord>> {
    const where =
      request.caCertificateId === undefined
        ? undefined
        : (['ca_certificate_id', request.caCertificateId.toLowerCase()] as const);
    return pageByCreation(this.db, 'certificates', where, request, rowToCertificate);
  }

  /** AWS: REVOKED is final; PENDING_* cannot be set by clients. */
  async updateStatus(certificateId: string, status: CertificateStatus, now: number): Promise<void> {
    if (!SETTABLE.has(status))
      throw invalidRequest(`The status ${status} cannot be set; it is used internally by AWS IoT`);
    await this.db.transaction(async (tx) => {
      const cert = await lockCertificate(tx, certificateId);
      if (cert.status === status) return;
      if (cert.status === 'REVOKED')
        throw new OtterError(
          'CertificateStateException',
          `Certificate ${cert.certificateId} is revoked; its status cannot change`,
        );
      await tx.run(
        'UPDATE certificates SET status = ?, customer_version = customer_version + 1, updated_at = ? WHERE certificate_id = ?',
        [status, now, cert.certificateId],
      );
    });
  }

  /** Refuses ACTIVE certificates (CertificateStateException) and attached ones (DeleteConflictException). */
  async delete(certificateId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const cert = await lockCertificate(tx, certificateId);
      if (cert.status === 'ACTIVE')
        throw new OtterError(
          'CertificateStateException',
          `Certificate ${cert.certificateId} is ACTIVE; deactivate it (UpdateCertificate) before deleting it`,
        );
      const things = await attachedThings(tx, cert.certificateId, 1);
      if (things.length > 0)
        throw new OtterError(
          'DeleteConflictException',
          `Certificate ${cert.certificateId} is attached to one or more things; detach it first`,
        );
      await tx.run('DELETE FROM thing_principals WHERE certificate_id = ?', [cert.certificateId]);
      await tx.run('DELETE FROM certificates WHERE certificate_id = ?', [cert.certificateId]);
    });
  }

  /** Idempotent. An EXCLUSIVE_THING attachment forbids any other thing for the certificate. */
  async attach(
    thingName: string,
    certificateId: string,
    type: ThingPrincipalType,
    now: number,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const cert = await lockCertificate(tx, certificateId);
      const thing = await tx.run('UPDATE things SET thing_name = thing_name WHERE thing_name = ?', [
        thingName,
      ]);
      if (thing.changes === 0) throw thingNotFound(thingName);
      const rows = await tx.all<{ thing_name: string; principal_type: string }>(
        `SELECT p.thing_name, p.principal_type FROM thing_principals p
         JOIN things t ON t.thing_name = p.thing_name WHERE p.certificate_id = ?`,
        [cert.certificateId],
      );
      const others = rows.filter((r) => r.thing_name !== thingName);
      const exclusive = others.find((r) => r.principal_type === 'EXCLUSIVE_THING');
      if (exclusive)
        throw invalidRequest(
          `Certificate ${cert.certificateId} is exclusively attached to thing ${exclusive.thing_name}`,
        );
      if (type === 'EXCLUSIVE_THING' && others.length > 0)
        throw invalidRequest(
          `Certificate ${cert.certificateId} is already attached to other things; it cannot be attached exclusively`,
        );
      await tx.run(
        `INSERT INTO thing_principals (thing_name, certificate_id, principal_type, attached_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (thing_name, certificate_id) DO UPDATE SET principal_type = excluded.principal_type`,
        [thingName, cert.certificateId, type, now],
      );
    });
  }

  /** Idempotent: detaching a principal that is not attached succeeds. */
  async detach(thingName: string, certificateId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const cert = await lockCertificate(tx, certificateId);
      const thing = await tx.get('SELECT thing_name FROM things WHERE thing_name = ?', [thingName]);
      if (!thing) throw thingNotFound(thingName);
      await tx.run('DELETE FROM thing_principals WHERE thing_name = ? AND certificate_id = ?', [
        thingName,
        cert.certificateId,
      ]);
    });
  }

  /** Certificate ids attached to a thing, by id. */
  async listForThing(thingName: string, page: PageRequest): Promise<Page<string>> {
    const thing = await this.db.get('SELECT thing_name FROM things WHERE thing_name = ?', [thingName]);
    if (!thing) throw thingNotFound(thingName);
    const rows = await this.db.all<{ certificate_id: string }>(
      `SELECT certificate_id FROM thing_principals WHERE thing_name = ? AND certificate_id > ?
       ORDER BY certificate_id LIMIT ?`,
      [thingName, page.after ?? '', page.limit + 1],
    );
    return toPage(
      rows.map((r) => r.certificate_id),
      page.limit,
      (id) => id,
    );
  }

  /** Names of the (existing) things a certificate is attached to, by name. */
  async listThings(certificateId: string, page: PageRequest): Promise<Page<string>> {
    const cert = await this.describe(certificateId);
    const rows = await attachedThings(this.db, cert.certificateId, page.limit + 1, page.after);
    return toPage(rows, page.limit, (name) => name);
  }

  /** Whether the certificate is attached to this (existing) thing. */
  async isAttached(certificateId: string, thingName: string): Promise<boolean> {
    const row = await this.db.get(
      `SELECT 1 AS x FROM thing_principals p JOIN things t ON t.thing_name = p.thing_name
       WHERE p.certificate_id = ? AND p.thing_name = ?`,
      [certificateId.toLowerCase(), thingName],
    );
    return row !== undefined;
  }
}

/** Reads a certificate and takes its row lock for the rest of the transaction. */
async function lockCertificate(tx: SqlExecutor, certificateId: string): Promise<CertificateRecord> {
  const row = await lockCertificateRow<CertificateRow>(tx, 'certificates', certificateId);
  if (!row) throw certificateNotFound(certificateId);
  return rowToCertificate(row);
}

/** Attachments to things that still exist (a thing deleted concurrently leaves nothing usable). */
async function attachedThings(
  ex: SqlExecutor,
  certificateId: string,
  limit: number,
  after = '',
): Promise<string[]> {
  const rows = await ex.all<{ thing_name: string }>(
    `SELECT p.thing_name FROM thing_principals p JOIN things t ON t.thing_name = p.thing_name
     WHERE p.certificate_id = ? AND p.thing_name > ? ORDER BY p.thing_name LIMIT ?`,
    [certificateId, after, limit],
  );
  return rows.map((r) => r.thing_name);
}
