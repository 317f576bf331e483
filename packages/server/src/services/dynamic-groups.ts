import { type FleetQueryNode, indexFields, matchesFleetQuery, parseFleetQuery } from '@otter/core';
import type { RegistryStore } from '../store/index.js';

/** How many passes `refreshThing` makes: a dynamic group may query `thingGroupNames`, which other
 * dynamic groups change. Two passes settle one level of such references and bound any cycle. */
const MAX_PASSES = 2;
const PAGE = 500;

/**
 * Keeps the membership rows of dynamic thing groups in step with the fleet index.
 *
 * The parsed queries of all dynamic groups are cached in memory, tagged with the store's
 * `dynamicVersion()`, a counter bumped in the transaction of every dynamic group create, query
 * update and delete. Each use reads that counter (one primary-key read) and reloads the queries
 * when it moved, so several server processes on one database see each other's changes at once.
 */
export class DynamicGroups {
  private cache: { version: number; queries: Promise<Map<string, FleetQueryNode>> } | undefined;

  constructor(private readonly store: RegistryStore) {}

  /** Forgets the cached queries; the next use reloads them from the store. */
  invalidate(): void {
    this.cache = undefined;
  }

  private async queries(): Promise<Map<string, FleetQueryNode>> {
    // The version is read before the groups: a change committed in between makes the next use
    // reload again, never keeps old queries under a new version.
    const version = await this.store.thingGroups.dynamicVersion();
    if (this.cache?.version === version) return this.cache.queries;
    const pending = this.store.thingGroups.listDynamic().then((groups) => {
      const map = new Map<string, FleetQueryNode>();
      for (const g of groups) {
        if (g.queryString === undefined) continue;
        try {
          map.set(g.thingGroupName, parseFleetQuery(g.queryString));
        } catch {
          // Stored queries were validated on write; a query this version cannot parse matches nothing.
        }
      }
      return map;
    });
    const entry = { version, queries: pending };
    this.cache = entry;
    pending.catch(() => {
      if (this.cache === entry) this.cache = undefined;
    });
    return pending;
  }

  /**
   * Re-evaluates every dynamic group's query against one thing and adds or removes its
   * memberships. Call after anything that changes what the index holds for the thing
   * (registry data, static group membership, shadows, connectivity). Nothing happens for a
   * thing that does not exist (any more).
   */
  async refreshThing(thingName: string): Promise<void> {
    const queries = await this.queries();
    if (queries.size === 0) return;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const thing = await this.store.indexedThing(thingName);
      if (!thing) return;
      const fields = indexFields(thing);
      const current = new Set(thing.thingGroupNames);
      let changed = false;
      for (const [group, query] of queries) {
        const member = matchesFleetQuery(query, fields);
        if (member === current.has(group)) continue;
        if (await this.store.thingGroups.setDynamicMembership(group, thingName, member)) changed = true;
      }
      if (!changed) return;
    }
  }

  /** Recomputes a dynamic group's whole membership with an index search (after create/update). */
  async recompute(groupName: string): Promise<void> {
    const group = await this.store.thingGroups.get(groupName);
    if (group?.queryString === undefined) return;
    const query = parseFleetQuery(group.queryString);
    const wanted = new Set<string>();
    let after: string | undefined;
    do {
      const page = await this.store.searchThings(query, { after, limit: PAGE });
      for (const t of page.items) wanted.add(t.thingName);
      after = page.nextToken;
    } while (after !== undefined);
    const current = new Set<string>();
    after = undefined;
    do {
      const page = await this.store.thingGroups.listThings(groupName, { after, limit: PAGE });
      for (const name of page.items) current.add(name);
      after = page.nextToken;
    } while (after !== undefined);
    const changed: string[] = [];
    for (const name of wanted)
      if (!current.has(name) && (await this.store.thingGroups.setDynamicMembership(groupName, name, true)))
        changed.push(name);
    for (const name of current)
      if (!wanted.has(name) && (await this.store.thingGroups.setDynamicMembership(groupName, name, false)))
        changed.push(name);
    // Other dynamic groups may query thingGroupNames: let them follow the things that moved.
    for (const name of changed) await this.refreshThing(name);
  }
}
