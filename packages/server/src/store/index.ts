export type { ArtifactRecord, ListArtifactsRequest } from './artifact-store.js';
export { ArtifactStore } from './artifact-store.js';
export {
  CERTIFICATE_STATUSES,
  type CertificateMode,
  type CertificateRecord,
  type CertificateStatus,
  CertificateStore,
  type DeviceCaRecord,
  type ThingPrincipalType,
} from './certificate-store.js';
export { createDatabase } from './create-database.js';
export type {
  InitialRelease,
  JobConfigs,
  JobRecord,
  JobTargetNames,
  JobTemplateRecord,
  NewJob,
  TargetSelection,
} from './job-store.js';
export { JobStore } from './job-store.js';
export { MIGRATIONS, type Migration, migrate } from './migrations.js';
export type {
  CreatePackageVersionInput,
  PackageVersionAction,
  UpdatePackageInput,
  UpdatePackageVersionInput,
} from './package-store.js';
export type * from './records.js';
export { RegistryStore } from './registry-store.js';
export { CLASSIC_SHADOW } from './shadow-store.js';
export { type NewSigningKey, type SigningKeyRecord, SigningKeyStore } from './signing-key-store.js';
export type { QueryOptions, SqlDatabase, SqlExecutor, SqlKind } from './sql/sql-database.js';
export { UniqueViolation } from './sql/sql-database.js';
export type {
  CreateThingGroupInput,
  ListThingGroupsRequest,
  UpdateThingGroupInput,
} from './thing-group-store.js';
export type { CreateThingInput, ListThingsRequest, UpdateThingInput } from './thing-store.js';
export type { CreateThingTypeInput } from './thing-type-store.js';
export { THING_TYPE_DELETE_DELAY_MS } from './thing-type-store.js';
