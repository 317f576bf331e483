import {
  type CompiledFleetQuery,
  compileFleetQuery,
  type FleetQueryNode,
  type IndexedThing,
  postgresDialect,
  type SqlDialect,
  sqliteDialect,
} from '@otter/core';
import { ArtifactStore } from './artifact-store.js';
import { CertificateStore } from './certificate-store.js';
import { JobStore } from './job-store.js';
import { PackageStore } from './package-store.js';
import {
  type Page,
  type PageRequest,
  rowToThing,
  type ThingRecord,
  type ThingRow,
  toPage,
} from './records.js';
import { SettingsStore } from './settings-store.js';
import { ShadowStore } from './shadow-store.js';
import { SigningKeyStore } from './signing-key-store.js';
import type { SqlDatabase, SqlExecutor, SqlKind } from './sql/sql-database.js';
import { TagStore } from './tag-store.js';
import { ThingGroupStore } from './thing-group-store.js';
import { loadIndexedThing, reindexThing } from './thing-index.js';
import { ThingStore } from './thing-store.js';
import { ThingTypeStore } from './thing-type-store.js';

/** Which fleet query SQL dialect each database speaks (capability data, not `if`s). */
const FLEET_DIALECTS: Record<SqlKind, SqlDialect> = { sqlite: sqliteDialect, postgres: postgresDialect };

/** The registry, shadows, tags, settings and fleet index over one SqlDatabase. */
export class RegistryStore {
  readonly things: ThingStore;
  readonly thingTypes: ThingTypeStore;
  readonly thingGroups: ThingGroupStore;
  readonly shadows: ShadowStore;
  readonly tags: TagStore;
  readonly settings: SettingsStore;
  readonly packages: PackageStore;
  /** Names of stored artifacts (the native artifact API). */
  readonly artifacts: ArtifactStore;
  /** Public keys that artifact signatures are checked against. */
  readonly signingKeys: SigningKeyStore;
  /** X.509 device certificates, their things, and the device CA. */
  readonly certificates: CertificateStore;
  /** Jobs, their targets and executions, job templates. */
  readonly jobs: JobStore;
  /** The dialect to compile fleet queries with for `searchCompiled`. */
  readonly fleetDialect: SqlDialect;

  constructor(readonly db: SqlDatabase) {
    this.things = new ThingStore(db);
    this.thingTypes = new ThingTypeStore(db);
    this.thingGroups = new ThingGroupStore(db);
    this.shadows = new ShadowStore(db);
    this.tags = new TagStore(db);
    this.settings = new SettingsStore(db);
    this.packages = new PackageStore(db);
    this.artifacts = new ArtifactStore(db);
    this.signingKeys = new SigningKeyStore(db);
    this.certificates = new CertificateStore(db);
    this.jobs = new JobStore(db);
    this.fleetDialect = FLEET_DIALECTS[db.kind];
  }

  /** Things matching a parsed fleet query, by name. */
  searchThings(query: FleetQueryNode, page: PageRequest): Promise<Page<ThingRecord>> {
    return this.searchCompiled(compileFleetQuery(query, this.fleetDialect), page);
  }

  /**
   * Runs a query compiled with `fleetDialect` and no `paramOffset` (its parameters come first):
   * `SELECT t.* FROM things t WHERE <where> AND t.thing_name > ? ORDER BY t.thing_name LIMIT ?`.
   */
  async searchCompiled(compiled: CompiledFleetQuery, page: PageRequest): Promise<Page<ThingRecord>> {
    const numbered = this.fleetDialect.placeholders === 'numbered';
    const n = compiled.params.length;
    const [afterParam, limitParam] = numbered ? [`$${n + 1}`, `$${n + 2}`] : ['?', '?'];
    const rows = await this.db.all<ThingRow>(
      `SELECT t.* FROM things t WHERE (${compiled.where}) AND t.thing_name > ${afterParam}
       ORDER BY t.thing_name LIMIT ${limitParam}`,
      [...compiled.params, page.after ?? '', page.limit + 1],
      { placeholders: this.fleetDialect.placeholders },
    );
    return toPage(rows.map(rowToThing), page.limit, (t) => t.thingName);
  }

  /** What the fleet index holds for a thing (registry data, groups, shadows, connectivity). */
  indexedThing(thingName: string): Promise<IndexedThing | undefined> {
    return loadIndexedThing(this.db, thingName);
  }

  /** Rebuilds the index rows of every thing (e.g. after the indexing configuration changed). */
  async reindexAll(): Promise<void> {
    const names = await this.db.all<{ thing_name: string }>(
      'SELECT thing_name FROM things ORDER BY thing_name',
    );
    for (const { thing_name } of names) await this.db.transaction((tx) => reindexThing(tx, thing_name));
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export type { SqlExecutor };
export { reindexThing };
