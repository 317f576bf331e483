import { notFound, OtterError } from '@otter/core';
import {
  type PackageRecord,
  type PackageVersionRecord,
  type PackageVersionStatus,
  type Page,
  type PageRequest,
  parseJson,
  toPage,
} from './records.js';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from './sql/sql-database.js';

interface PackageRow {
  name: string;
  description: string | null;
  default_version: string | null;
  created_at: number;
  updated_at: number;
}

interface PackageVersionRow {
  package_name: string;
  version_name: string;
  description: string | null;
  attributes: string;
  status: string;
  error_reason: string | null;
  created_at: number;
  updated_at: number;
  artifact: string | null;
  recipe: string | null;
  sbom: string | null;
  sbom_validation_status: string | null;
}

/** `S3Location` of the AWS model: where an artifact or SBOM lives. */
export interface S3Location {
  bucket: string;
  key: string;
  version?: string;
}

/** `SbomValidationStatus`: Otter does not read SBOM content, so an associated SBOM is SUCCEEDED. */
export type SbomValidationStatus = 'IN_PROGRESS' | 'FAILED' | 'SUCCEEDED';

/** A package version with what the catalog stores beside its attributes. */
export interface PackageVersionDetail extends PackageVersionRecord {
  artifact?: { s3Location: S3Location };
  /** The inline job document (JSON text) for quick deployments. */
  recipe?: string;
  sbom?: { s3Location: S3Location };
  sbomValidationStatus?: SbomValidationStatus;
}

/**
 * Runs before a version becomes PUBLISHED, on the version as it will be published; when it throws,
 * nothing changes. Otter's default accepts everything.
 */
export type PublishCheck = (version: PackageVersionDetail) => Promise<void>;

function rowToPackage(row: PackageRow): PackageRecord {
  return {
    packageName: row.name,
    ...(row.description === null ? {} : { description: row.description }),
    ...(row.default_version === null ? {} : { defaultVersionName: row.default_version }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function rowToVersion(row: PackageVersionRow): PackageVersionDetail {
  return {
    packageName: row.package_name,
    versionName: row.version_name,
    ...(row.description === null ? {} : { description: row.description }),
    attributes: parseJson<Record<string, string>>(row.attributes),
    status: row.status as PackageVersionStatus,
    ...(row.error_reason === null ? {} : { errorReason: row.error_reason }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    ...(row.artifact === null ? {} : { artifact: { s3Location: parseJson<S3Location>(row.artifact) } }),
    ...(row.recipe === null ? {} : { recipe: row.recipe }),
    ...(row.sbom === null ? {} : { sbom: { s3Location: parseJson<S3Location>(row.sbom) } }),
    ...(row.sbom_validation_status === null
      ? {}
      : { sbomValidationStatus: row.sbom_validation_status as SbomValidationStatus }),
  };
}

/** The S3 location of an artifact or SBOM, checked: bucket and key are needed to find the file. */
function s3LocationOf(what: string, value: { s3Location?: Partial<S3Location> } | undefined): string | null {
  if (value === undefined) return null;
  const loc = value.s3Location;
  if (!loc || typeof loc.bucket !== 'string' || typeof loc.key !== 'string' || !loc.bucket || !loc.key)
    throw validation(`${what}.s3Location needs a bucket and a key.`);
  return JSON.stringify({
    bucket: loc.bucket,
    key: loc.key,
    ...(loc.version === undefined ? {} : { version: loc.version }),
  });
}

/** A recipe is an inline job document: a JSON object. */
function checkedRecipe(recipe: string | undefined): string | undefined {
  if (recipe === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(recipe);
  } catch {
    throw validation('recipe must be a JSON document (the inline job document).');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw validation('recipe must be a JSON object (the inline job document).');
  return recipe;
}

const conflict = (message: string) => new OtterError('ConflictException', message);
const validation = (message: string) => new OtterError('ValidationException', message);
const packageNotFound = (name: string) => notFound(`Package ${name} cannot be found.`);
const versionNotFound = (pkg: string, version: string) =>
  notFound(`Package version ${version} of package ${pkg} cannot be found.`);

/**
 * `action` of UpdatePackageVersion: the status each leads to, and the statuses it starts from. As the
 * AWS package version lifecycle describes, a deprecated version can be published again.
 */
const TRANSITIONS = {
  PUBLISH: { from: ['DRAFT', 'DEPRECATED'], to: 'PUBLISHED' },
  DEPRECATE: { from: ['PUBLISHED'], to: 'DEPRECATED' },
} as const satisfies Record<string, { from: readonly PackageVersionStatus[]; to: PackageVersionStatus }>;
export type PackageVersionAction = keyof typeof TRANSITIONS;

export interface UpdatePackageInput {
  description?: string | undefined;
  defaultVersionName?: string | undefined;
  unsetDefaultVersion?: boolean | undefined;
}

export interface CreatePackageVersionInput {
  description?: string | undefined;
  attributes?: Record<string, string> | undefined;
  artifact?: { s3Location?: Partial<S3Location> } | undefined;
  recipe?: string | undefined;
}

export interface UpdatePackageVersionInput extends CreatePackageVersionInput {
  action?: PackageVersionAction | undefined;
}

/** How often UpdatePackageVersion re-reads when another writer changed the version during a publish check. */
const MAX_UPDATE_ATTEMPTS = 5;

/** The Software Package Catalog: packages and their versions (DRAFT → PUBLISHED → DEPRECATED). */
export class PackageStore {
  constructor(private readonly db: SqlDatabase) {}

  /** A package name is unique: creating it again is ConflictException. */
  async create(name: string, description: string | undefined, now: number): Promise<PackageRecord> {
    try {
      await this.db.run(
        'INSERT INTO packages (name, description, default_version, created_at, updated_at) VALUES (?, ?, NULL, ?, ?)',
        [name, description ?? null, now, now],
      );
    } catch (error) {
      if (error instanceof UniqueViolation) throw conflict(`Package ${name} already exists.`);
      throw error;
    }
    return this.describe(name);
  }

  async get(name: string, db: SqlExecutor = this.db): Promise<PackageRecord | undefined> {
    const row = await db.get<PackageRow>('SELECT * FROM packages WHERE name = ?', [name]);
    return row && rowToPackage(row);
  }

  async describe(name: string): Promise<PackageRecord> {
    const p = await this.get(name);
    if (!p) throw packageNotFound(name);
    return p;
  }

  async list(request: PageRequest): Promise<Page<PackageRecord>> {
    const rows = await this.db.all<PackageRow>(
      'SELECT * FROM packages WHERE name > ? ORDER BY name LIMIT ?',
      [request.after ?? '', request.limit + 1],
    );
    return toPage(rows.map(rowToPackage), request.limit, (p) => p.packageName);
  }

  /**
   * Changes the description and/or the default version. The default must be an existing version
   * that is PUBLISHED or DEPRECATED (a DRAFT cannot be deployed).
   */
  async update(name: string, input: UpdatePackageInput, now: number): Promise<void> {
    if (input.unsetDefaultVersion && input.defaultVersionName !== undefined)
      throw validation('defaultVersionName and unsetDefaultVersion cannot both be set.');
    await this.db.transaction(async (tx) => {
      const current = await this.get(name, tx);
      if (!current) throw packageNotFound(name);
      let defaultVersion = current.defaultVersionName ?? null;
      if (input.unsetDefaultVersion) defaultVersion = null;
      if (input.defaultVersionName !== undefined) {
        const v = await this.getVersion(name, input.defaultVersionName, tx);
        if (!v) throw versionNotFound(name, input.defaultVersionName);
        if (v.status === 'DRAFT')
          throw conflict(
            `Package version ${input.defaultVersionName} is in DRAFT status and cannot be the default version.`,
          );
        defaultVersion = input.defaultVersionName;
      }
      const description = input.description ?? current.description ?? null;
      await tx.run(
        'UPDATE packages SET description = ?, default_version = ?, updated_at = ? WHERE name = ?',
        [description, defaultVersion, now, name],
      );
    });
  }

  /** Idempotent when the package does not exist; ValidationException while it has versions. */
  async delete(name: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const version = await tx.get('SELECT 1 AS one FROM package_versions WHERE package_name = ? LIMIT 1', [
        name,
      ]);
      if (version)
        throw validation(`Package ${name} has package versions; delete them before deleting the package.`);
      await tx.run("DELETE FROM tags WHERE resource_type = 'package' AND resource_name = ?", [name]);
      await tx.run('DELETE FROM packages WHERE name = ?', [name]);
    });
  }

  /** New versions start in DRAFT. The package must exist (ValidationException otherwise). */
  async createVersion(
    packageName: string,
    versionName: string,
    input: CreatePackageVersionInput,
    now: number,
  ): Promise<PackageVersionDetail> {
    const artifact = s3LocationOf('artifact', input.artifact);
    const recipe = checkedRecipe(input.recipe) ?? null;
    await this.db.transaction(async (tx) => {
      if (!(await this.get(packageName, tx))) throw validation(`Package ${packageName} does not exist.`);
      if (await this.getVersion(packageName, versionName, tx))
        throw conflict(`Package version ${versionName} of package ${packageName} already exists.`);
      try {
        await tx.run(
          `INSERT INTO package_versions
             (package_name, version_name, description, attributes, status, error_reason, created_at, updated_at,
              artifact, recipe, sbom, sbom_validation_status)
           VALUES (?, ?, ?, ?, 'DRAFT', NULL, ?, ?, ?, ?, NULL, NULL)`,
          [
            packageName,
            versionName,
            input.description ?? null,
            JSON.stringify(input.attributes ?? {}),
            now,
            now,
            artifact,
            recipe,
          ],
        );
      } catch (error) {
        if (error instanceof UniqueViolation)
          throw conflict(`Package version ${versionName} of package ${packageName} already exists.`);
        throw error;
      }
    });
    return this.describeVersion(packageName, versionName);
  }

  async getVersion(
    packageName: string,
    versionName: string,
    db: SqlExecutor = this.db,
  ): Promise<PackageVersionDetail | undefined> {
    const row = await db.get<PackageVersionRow>(
      'SELECT * FROM package_versions WHERE package_name = ? AND version_name = ?',
      [packageName, versionName],
    );
    return row && rowToVersion(row);
  }

  async describeVersion(packageName: string, versionName: string): Promise<PackageVersionDetail> {
    const v = await this.getVersion(packageName, versionName);
    if (!v) throw versionNotFound(packageName, versionName);
    return v;
  }

  async listVersions(
    packageName: string,
    request: PageRequest & { status?: PackageVersionStatus | undefined },
  ): Promise<Page<PackageVersionRecord>> {
    const rows = await this.db.all<PackageVersionRow>(
      `SELECT * FROM package_versions WHERE package_name = ? AND version_name > ?${
        request.status === undefined ? '' : ' AND status = ?'
      } ORDER BY version_name LIMIT ?`,
      [
        packageName,
        request.after ?? '',
        ...(request.status === undefined ? [] : [request.status]),
        request.limit + 1,
      ],
    );
    return toPage(rows.map(rowToVersion), request.limit, (v) => v.versionName);
  }

  /**
   * Description can change in any status; attributes, artifact and recipe only in DRAFT (AWS: a
   * published or deprecated version's description and tags are all that can be edited). `action`
   * moves DRAFT or DEPRECATED → PUBLISHED (PUBLISH) and PUBLISHED → DEPRECATED (DEPRECATE); anything
   * else is ConflictException. `publishCheck` sees the version as it will be published and runs
   * outside the database transaction; the update applies only if nobody changed the version meanwhile.
   */
  async updateVersion(
    packageName: string,
    versionName: string,
    input: UpdatePackageVersionInput,
    now: number,
    publishCheck?: PublishCheck,
  ): Promise<void> {
    const artifact = s3LocationOf('artifact', input.artifact);
    const recipe = checkedRecipe(input.recipe);
    for (let attempt = 1; ; attempt++) {
      const v = await this.getVersion(packageName, versionName);
      if (!v) throw versionNotFound(packageName, versionName);
      const locked = (
        [
          ['Attributes', input.attributes],
          ['The artifact', artifact],
          ['The recipe', recipe],
        ] as const
      ).find(([, value]) => value !== undefined && value !== null);
      if (locked && v.status !== 'DRAFT')
        throw conflict(
          `${locked[0]} of package version ${versionName} can be updated only in DRAFT status (it is ${v.status}).`,
        );
      let status = v.status;
      if (input.action !== undefined) {
        const t = TRANSITIONS[input.action];
        if (!(t.from as readonly PackageVersionStatus[]).includes(v.status))
          throw conflict(
            `Package version ${versionName} is in ${v.status} status; ${input.action} requires ${t.from.join(' or ')}.`,
          );
        status = t.to;
      }
      const next: PackageVersionDetail = {
        ...v,
        ...(input.description === undefined ? {} : { description: input.description }),
        ...(input.attributes === undefined ? {} : { attributes: input.attributes }),
        ...(artifact === null ? {} : { artifact: { s3Location: JSON.parse(artifact) as S3Location } }),
        ...(recipe === undefined ? {} : { recipe }),
        status,
        updatedAt: now,
      };
      if (input.action === 'PUBLISH' && publishCheck) await publishCheck(next);
      const applied = await this.db.transaction(async (tx) => {
        const again = await this.getVersion(packageName, versionName, tx);
        if (!again || JSON.stringify(again) !== JSON.stringify(v)) return false;
        await tx.run(
          `UPDATE package_versions SET description = ?, attributes = ?, status = ?, updated_at = ?,
             artifact = ?, recipe = ?
           WHERE package_name = ? AND version_name = ?`,
          [
            next.description ?? null,
            JSON.stringify(next.attributes),
            next.status,
            now,
            next.artifact ? JSON.stringify(next.artifact.s3Location) : null,
            next.recipe ?? null,
            packageName,
            versionName,
          ],
        );
        return true;
      });
      if (applied) return;
      if (attempt >= MAX_UPDATE_ATTEMPTS)
        throw conflict(
          `Package version ${versionName} of package ${packageName} is being changed concurrently.`,
        );
    }
  }

  /**
   * Associates an SBOM with a DRAFT version (like attributes, it is part of what gets published).
   * Otter does not read SBOM content, so the validation status is SUCCEEDED at once.
   */
  async associateSbom(
    packageName: string,
    versionName: string,
    sbom: { s3Location?: Partial<S3Location> },
    now: number,
  ): Promise<PackageVersionDetail> {
    const location = s3LocationOf('sbom', sbom);
    await this.changeDraft(packageName, versionName, 'An SBOM', async (tx) => {
      await tx.run(
        `UPDATE package_versions SET sbom = ?, sbom_validation_status = 'SUCCEEDED', updated_at = ?
         WHERE package_name = ? AND version_name = ?`,
        [location, now, packageName, versionName],
      );
    });
    return this.describeVersion(packageName, versionName);
  }

  /** Removes the SBOM of a DRAFT version; succeeds when it has none. */
  async disassociateSbom(packageName: string, versionName: string, now: number): Promise<void> {
    await this.changeDraft(packageName, versionName, 'The SBOM', async (tx) => {
      await tx.run(
        `UPDATE package_versions SET sbom = NULL, sbom_validation_status = NULL, updated_at = ?
         WHERE package_name = ? AND version_name = ? AND sbom IS NOT NULL`,
        [now, packageName, versionName],
      );
    });
  }

  private async changeDraft(
    packageName: string,
    versionName: string,
    what: string,
    change: (tx: SqlExecutor) => Promise<void>,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const v = await this.getVersion(packageName, versionName, tx);
      if (!v) throw versionNotFound(packageName, versionName);
      if (v.status !== 'DRAFT')
        throw conflict(
          `${what} of package version ${versionName} can be changed only in DRAFT status (it is ${v.status}).`,
        );
      await change(tx);
    });
  }

  /** Idempotent when the version does not exist; the package's default version cannot be deleted. */
  async deleteVersion(packageName: string, versionName: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const p = await this.get(packageName, tx);
      if (p?.defaultVersionName === versionName)
        throw validation(
          `Package version ${versionName} is the default version of package ${packageName}; unset it with UpdatePackage first.`,
        );
      await tx.run("DELETE FROM tags WHERE resource_type = 'packageVersion' AND resource_name = ?", [
        `${packageName}/${versionName}`,
      ]);
      await tx.run('DELETE FROM package_versions WHERE package_name = ? AND version_name = ?', [
        packageName,
        versionName,
      ]);
    });
  }
}
