import type { SqlDatabase, SqlKind } from './sql/sql-database.js';

export interface Migration {
  readonly id: string;
  /** SQL statements separated by `;` at line ends. */
  up(kind: SqlKind): string;
}

/** Key of the PostgreSQL advisory lock that serializes migrations across server starts. */
const MIGRATION_LOCK_KEY = 0x6f747472; // "ottr"

/** Column types that differ: names compare by code point in both databases. */
const TYPES: Record<SqlKind, { name: string; real: string }> = {
  sqlite: { name: 'TEXT', real: 'REAL' },
  postgres: { name: 'TEXT COLLATE "C"', real: 'DOUBLE PRECISION' },
};

export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001_registry',
    up(kind) {
      const { name, real } = TYPES[kind];
      return `
CREATE TABLE things (
  thing_name ${name} PRIMARY KEY,
  thing_id TEXT NOT NULL UNIQUE,
  thing_type_name ${name} NULL,
  attributes TEXT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  connected INTEGER NOT NULL DEFAULT 0,
  connectivity_at BIGINT NULL,
  disconnect_reason TEXT NULL
);
CREATE INDEX things_type ON things (thing_type_name, thing_name);
CREATE TABLE thing_types (
  name ${name} PRIMARY KEY,
  id TEXT NOT NULL,
  description TEXT NULL,
  searchable_attributes TEXT NOT NULL,
  deprecated INTEGER NOT NULL DEFAULT 0,
  deprecated_at BIGINT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE thing_groups (
  name ${name} PRIMARY KEY,
  id TEXT NOT NULL,
  parent_name ${name} NULL,
  description TEXT NULL,
  attributes TEXT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  query_string TEXT NULL,
  query_version TEXT NULL,
  index_name TEXT NULL
);
CREATE INDEX thing_groups_parent ON thing_groups (parent_name, name);
CREATE TABLE thing_group_members (
  group_name ${name} NOT NULL,
  thing_name ${name} NOT NULL,
  PRIMARY KEY (group_name, thing_name)
);
CREATE INDEX thing_group_members_thing ON thing_group_members (thing_name);
CREATE TABLE tags (
  resource_type TEXT NOT NULL,
  resource_name ${name} NOT NULL,
  key ${name} NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (resource_type, resource_name, key)
);
CREATE TABLE shadows (
  thing_name ${name} NOT NULL,
  shadow_name ${name} NOT NULL,
  state TEXT NOT NULL,
  version BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (thing_name, shadow_name)
);
CREATE TABLE thing_index (
  thing_name ${name} NOT NULL,
  field ${name} NOT NULL,
  value_text ${name} NULL,
  value_num ${real} NULL
);
CREATE INDEX thing_index_text ON thing_index (field, value_text, thing_name);
CREATE INDEX thing_index_num ON thing_index (field, value_num, thing_name);
CREATE INDEX thing_index_thing ON thing_index (thing_name);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
)`;
    },
  },
  {
    // AWS continues a shadow's version when it is re-created within 48 hours of its deletion.
    id: '0002_shadow_tombstones',
    up(kind) {
      const { name } = TYPES[kind];
      return `
CREATE TABLE shadow_tombstones (
  thing_name ${name} NOT NULL,
  shadow_name ${name} NOT NULL,
  version BIGINT NOT NULL,
  deleted_at BIGINT NOT NULL,
  PRIMARY KEY (thing_name, shadow_name)
)`;
    },
  },
  {
    // Software Package Catalog: packages and their versions.
    id: '0003_packages',
    up(kind) {
      const { name } = TYPES[kind];
      return `
CREATE TABLE packages (
  name ${name} PRIMARY KEY,
  description TEXT NULL,
  default_version ${name} NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE package_versions (
  package_name ${name} NOT NULL,
  version_name ${name} NOT NULL,
  description TEXT NULL,
  attributes TEXT NOT NULL,
  status TEXT NOT NULL,
  error_reason TEXT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (package_name, version_name)
)`;
    },
  },
  {
    // Native artifact API: names of content-addressed blobs (docs/native-api.md).
    id: '0004_artifacts',
    up(kind) {
      const { name } = TYPES[kind];
      return `
CREATE TABLE artifacts (
  name ${name} PRIMARY KEY,
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  content_type TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX artifacts_sha256 ON artifacts (sha256)`;
    },
  },
  {
    // Public keys that artifact signatures are checked against (docs/signing.md). Never private keys.
    id: '0005_signing_keys',
    up(kind) {
      const { name } = TYPES[kind];
      return `
CREATE TABLE signing_keys (
  key_id TEXT PRIMARY KEY,
  name ${name} NOT NULL UNIQUE,
  algorithm TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  created_at BIGINT NOT NULL
)`;
    },
  },
  {
    // Catalog: artifact, recipe and SBOM of package versions; clientToken idempotency records.
    id: '0006_package_catalog',
    up(kind) {
      const { name } = TYPES[kind];
      return `
ALTER TABLE package_versions ADD COLUMN artifact TEXT NULL;
ALTER TABLE package_versions ADD COLUMN recipe TEXT NULL;
ALTER TABLE package_versions ADD COLUMN sbom TEXT NULL;
ALTER TABLE package_versions ADD COLUMN sbom_validation_status TEXT NULL;
CREATE TABLE idempotency_tokens (
  operation ${name} NOT NULL,
  token ${name} NOT NULL,
  request_hash TEXT NOT NULL,
  response_json TEXT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (operation, token)
);
CREATE INDEX idempotency_tokens_created ON idempotency_tokens (created_at)`;
    },
  },
  {
    // Device identity: the Otter device CA, X.509 certificates and their attachment to things.
    id: '0007_certificates',
    up(kind) {
      const { name } = TYPES[kind];
      return `
CREATE TABLE device_ca (
  id TEXT PRIMARY KEY,
  certificate_id TEXT NOT NULL,
  certificate_pem TEXT NOT NULL,
  private_key_pem TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE certificates (
  certificate_id TEXT PRIMARY KEY,
  certificate_pem TEXT NOT NULL,
  status TEXT NOT NULL,
  ca_certificate_id TEXT NULL,
  certificate_mode TEXT NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  generation_id TEXT NOT NULL,
  customer_version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX certificates_created ON certificates (created_at, certificate_id);
CREATE TABLE thing_principals (
  thing_name ${name} NOT NULL,
  certificate_id TEXT NOT NULL,
  principal_type TEXT NOT NULL,
  attached_at BIGINT NOT NULL,
  PRIMARY KEY (thing_name, certificate_id)
);
CREATE INDEX thing_principals_certificate ON thing_principals (certificate_id, thing_name)`;
    },
  },
  {
    // Jobs (docs/jobs.md). Timers are data: \`jobs.next_due_at\` (rollout pacing, scheduling) and
    // \`job_executions.due_at\` (step / in-progress timeouts) are what a scheduler on any process polls.
    id: '0008_jobs',
    up(kind) {
      const { name } = TYPES[kind];
      return `
CREATE TABLE jobs (
  job_id ${name} PRIMARY KEY,
  job_arn TEXT NOT NULL,
  status TEXT NOT NULL,
  target_selection TEXT NOT NULL,
  targets TEXT NOT NULL,
  document TEXT NULL,
  document_source TEXT NULL,
  document_parameters TEXT NULL,
  job_template_arn TEXT NULL,
  description TEXT NULL,
  comment TEXT NULL,
  reason_code TEXT NULL,
  configs TEXT NOT NULL,
  destination_package_versions TEXT NOT NULL,
  force_canceled INTEGER NOT NULL DEFAULT 0,
  rollout_started_at BIGINT NULL,
  rollout_complete INTEGER NOT NULL DEFAULT 0,
  released_count BIGINT NOT NULL DEFAULT 0,
  minute_started_at BIGINT NULL,
  released_this_minute BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  completed_at BIGINT NULL,
  next_due_at BIGINT NULL
);
CREATE INDEX jobs_status ON jobs (status, job_id);
CREATE INDEX jobs_due ON jobs (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE TABLE job_target_groups (
  job_id ${name} NOT NULL,
  group_name ${name} NOT NULL,
  PRIMARY KEY (job_id, group_name)
);
CREATE INDEX job_target_groups_group ON job_target_groups (group_name, job_id);
CREATE TABLE job_pending_targets (
  job_id ${name} NOT NULL,
  thing_name ${name} NOT NULL,
  PRIMARY KEY (job_id, thing_name)
);
CREATE TABLE job_executions (
  job_id ${name} NOT NULL,
  thing_name ${name} NOT NULL,
  execution_number BIGINT NOT NULL,
  status TEXT NOT NULL,
  status_details TEXT NOT NULL,
  version_number BIGINT NOT NULL,
  queued_at BIGINT NOT NULL,
  started_at BIGINT NULL,
  last_updated_at BIGINT NOT NULL,
  step_timeout_at BIGINT NULL,
  in_progress_timeout_at BIGINT NULL,
  due_at BIGINT NULL,
  retry_attempt INTEGER NOT NULL DEFAULT 0,
  force_canceled INTEGER NOT NULL DEFAULT 0,
  latest INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (job_id, thing_name, execution_number)
);
CREATE INDEX job_executions_pending ON job_executions (thing_name, queued_at)
  WHERE status IN ('QUEUED', 'IN_PROGRESS');
CREATE INDEX job_executions_thing ON job_executions (thing_name, job_id);
CREATE INDEX job_executions_job_status ON job_executions (job_id, status, thing_name);
CREATE INDEX job_executions_due ON job_executions (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE job_templates (
  job_template_id ${name} PRIMARY KEY,
  job_template_arn TEXT NOT NULL,
  description TEXT NOT NULL,
  document TEXT NULL,
  document_source TEXT NULL,
  configs TEXT NOT NULL,
  destination_package_versions TEXT NOT NULL,
  created_at BIGINT NOT NULL
)`;
    },
  },
  {
    // The device check-in reads a thing's pending executions in (queued_at, job_id) order: with job_id
    // in the index the rows come out sorted, without a temporary sort per request.
    id: '0009_job_executions_pending_order',
    up: () => `
CREATE INDEX job_executions_pending_order ON job_executions (thing_name, queued_at, job_id)
  WHERE status IN ('QUEUED', 'IN_PROGRESS');
DROP INDEX job_executions_pending`,
  },
  {
    // CA certificates registered with RegisterCACertificate (docs/device-identity.md). Device
    // certificates name theirs in certificates.ca_certificate_id (ListCertificatesByCA, and
    // DeleteCACertificate's check that none remain).
    id: '0010_ca_certificates',
    up: () => `
CREATE TABLE ca_certificates (
  certificate_id TEXT PRIMARY KEY,
  certificate_pem TEXT NOT NULL,
  subject TEXT NOT NULL,
  status TEXT NOT NULL,
  certificate_mode TEXT NOT NULL,
  auto_registration_status TEXT NOT NULL,
  registration_config TEXT NULL,
  template_name TEXT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  generation_id TEXT NOT NULL,
  customer_version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX ca_certificates_created ON ca_certificates (created_at, certificate_id);
CREATE INDEX ca_certificates_subject ON ca_certificates (subject);
CREATE INDEX certificates_ca ON certificates (ca_certificate_id, created_at, certificate_id)`,
  },
];

/** Applies pending migrations in one transaction (PostgreSQL: under an advisory lock). */
export async function migrate(
  db: SqlDatabase,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<string[]> {
  return db.transaction(async (tx) => {
    if (tx.kind === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    await tx.run(
      'CREATE TABLE IF NOT EXISTS otter_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
    const applied = new Set(
      (await tx.all<{ id: string }>('SELECT id FROM otter_migrations')).map((r) => r.id),
    );
    const ran: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      for (const statement of migration.up(tx.kind).split(/;\s*\n/)) {
        if (statement.trim() !== '') await tx.run(statement);
      }
      await tx.run('INSERT INTO otter_migrations (id, applied_at) VALUES (?, ?)', [migration.id, Date.now()]);
      ran.push(migration.id);
    }
    return ran;
  });
}
