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
}

function rowToPackage(row: PackageRow): PackageRecord {
  return {
    packageName: row.name,
    ...(row.description === null ? {} : { description: row.description }),
    ...(row.default_version === null ? {} : { defaultVersionName: row.default_version }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function rowToVersion(row: PackageVersionRow): PackageVersionRecord {
  return {
    packageName: row.package_name,
    versionName: row.version_name,
    ...(row.description === null ? {} : { description: row.description }),
    attributes: parseJson<Record<string, string>>(row.attributes),
    status: row.status as PackageVersionStatus,
    ...(row.error_reason === null ? {} : { errorReason: row.error_reason }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const conflict = (message: string) => new OtterError('ConflictException', message);
const validation = (message: string) => new OtterError('ValidationException', message);
const packageNotFound = (name: string) => notFound(`Package ${name} cannot be found.`);
const versionNotFound = (pkg: string, version: string) =>
  notFound(`Package version ${version} of package ${pkg} cannot be found.`);

/** `action` of UpdatePackageVersion: the status each leads to, and the one status it starts from. */
const TRANSITIONS = {
  PUBLISH: { from: 'DRAFT', to: 'PUBLISHED' },
  DEPRECATE: { from: 'PUBLISHED', to: 'DEPRECATED' },
} as const satisfies Record<string, { from: PackageVersionStatus; to: PackageVersionStatus }>;
export type PackageVersionAction = keyof typeof TRANSITIONS;

export interface UpdatePackageInput {
  description?: string | undefined;
  defaultVersionName?: string | undefined;
  unsetDefaultVersion?: boolean | undefined;
}

export interface CreatePackageVersionInput {
  description?: string | undefined;
  attributes?: Record<string, string> | undefined;
}

export interface UpdatePackageVersionInput {
  description?: string | undefined;
  attributes?: Record<string, string> | undefined;
  action?: PackageVersionAction | undefined;
}

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
  ): Promise<PackageVersionRecord> {
    await this.db.transaction(async (tx) => {
      if (!(await this.get(packageName, tx))) throw validation(`Package ${packageName} does not exist.`);
      if (await this.getVersion(packageName, versionName, tx))
        throw conflict(`Package version ${versionName} of package ${packageName} already exists.`);
      try {
        await tx.run(
          `INSERT INTO package_versions
             (package_name, version_name, description, attributes, status, error_reason, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'DRAFT', NULL, ?, ?)`,
          [
            packageName,
            versionName,
            input.description ?? null,
            JSON.stringify(input.attributes ?? {}),
            now,
            now,
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
  ): Promise<PackageVersionRecord | undefined> {
    const row = await db.get<PackageVersionRow>(
      'SELECT * FROM package_versions WHERE package_name = ? AND version_name = ?',
      [packageName, versionName],
    );
    return row && rowToVersion(row);
  }

  async describeVersion(packageName: string, versionName: string): Promise<PackageVersionRecord> {
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
   * Description can change in any status; attributes only in DRAFT. `action` moves
   * DRAFT → PUBLISHED (PUBLISH) or PUBLISHED → DEPRECATED (DEPRECATE); anything else is ConflictException.
   */
  async updateVersion(
    packageName: string,
    versionName: string,
    input: UpdatePackageVersionInput,
    now: number,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const v = await this.getVersion(packageName, versionName, tx);
      if (!v) throw versionNotFound(packageName, versionName);
      if (input.attributes !== undefined && v.status !== 'DRAFT')
        throw conflict(
          `Attributes of package version ${versionName} can be updated only in DRAFT status (it is ${v.status}).`,
        );
      let status = v.status;
      if (input.action !== undefined) {
        const t = TRANSITIONS[input.action];
        if (v.status !== t.from)
          throw conflict(
            `Package version ${versionName} is in ${v.status} status; ${input.action} requires ${t.from}.`,
          );
        status = t.to;
      }
      await tx.run(
        `UPDATE package_versions SET description = ?, attributes = ?, status = ?, updated_at = ?
         WHERE package_name = ? AND version_name = ?`,
        [
          input.description ?? v.description ?? null,
          JSON.stringify(input.attributes ?? v.attributes),
          status,
          now,
          packageName,
          versionName,
        ],
      );
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
