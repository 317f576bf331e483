import {
  forEachLeaf,
  type IndexedShadow,
  type IndexedThing,
  invalidQuery,
  invalidRequest,
  notFound,
  OtterError,
  parseFleetQuery,
} from '@otter/core';
import type { AwsHandler } from '../aws/aws-plane.js';
import type { RegistryStore } from '../store/index.js';
import { decodeToken, encodeToken } from './paging.js';

export const THINGS_INDEX = 'AWS_Things';
/** The settings key the indexing configuration is stored under. */
export const INDEXING_CONFIGURATION_KEY = 'indexingConfiguration';
/** SearchIndex never returns more than this many things per page (AWS documents the same bound). */
const SEARCH_MAX_RESULTS = 100;

export interface ThingIndexingConfiguration {
  thingIndexingMode: 'OFF' | 'REGISTRY' | 'REGISTRY_AND_SHADOW';
  thingConnectivityIndexingMode?: 'OFF' | 'STATUS';
  namedShadowIndexingMode?: 'OFF' | 'ON';
  deviceDefenderIndexingMode?: 'OFF' | 'VIOLATIONS';
  filter?: { namedShadowNames?: string[]; geoLocations?: { name?: string; order?: string }[] };
  managedFields?: { name?: string; type?: string }[];
  customFields?: { name?: string; type?: string }[];
}
export interface ThingGroupIndexingConfiguration {
  thingGroupIndexingMode: 'OFF' | 'ON';
  managedFields?: { name?: string; type?: string }[];
  customFields?: { name?: string; type?: string }[];
}
export interface IndexingConfiguration {
  thingIndexingConfiguration: ThingIndexingConfiguration;
  thingGroupIndexingConfiguration: ThingGroupIndexingConfiguration;
}

/** Otter indexes registry, shadows (classic and `$package`) and connectivity out of the box. */
export const DEFAULT_INDEXING_CONFIGURATION: IndexingConfiguration = {
  thingIndexingConfiguration: {
    thingIndexingMode: 'REGISTRY_AND_SHADOW',
    thingConnectivityIndexingMode: 'STATUS',
    namedShadowIndexingMode: 'ON',
    deviceDefenderIndexingMode: 'OFF',
    filter: { namedShadowNames: ['$package'] },
  },
  thingGroupIndexingConfiguration: { thingGroupIndexingMode: 'OFF' },
};

export async function loadIndexingConfiguration(store: RegistryStore): Promise<IndexingConfiguration> {
  const stored = await store.settings.get<Partial<IndexingConfiguration>>(INDEXING_CONFIGURATION_KEY);
  return { ...DEFAULT_INDEXING_CONFIGURATION, ...stored };
}

const namedShadowsIndexed = (c: ThingIndexingConfiguration) =>
  c.thingIndexingMode === 'REGISTRY_AND_SHADOW' && c.namedShadowIndexingMode === 'ON';

/** Fields the configuration does not index cannot be queried (InvalidQueryException naming the field). */
function checkFields(queryString: string, c: ThingIndexingConfiguration) {
  const node = parseFleetQuery(queryString);
  forEachLeaf(node, (leaf) => {
    const f = leaf.field;
    const off =
      (f.startsWith('shadow.name.') && !namedShadowsIndexed(c)) ||
      ((f === 'shadow' || f.startsWith('shadow.')) && c.thingIndexingMode !== 'REGISTRY_AND_SHADOW') ||
      (f.startsWith('connectivity.') && c.thingConnectivityIndexingMode !== 'STATUS');
    if (off) throw invalidQuery(`The field '${f}' is not indexed by the current indexing configuration`);
  });
  return node;
}

function shadowDocument(s: IndexedShadow): Record<string, unknown> {
  return {
    ...(s.desired === undefined ? {} : { desired: s.desired }),
    ...(s.reported === undefined ? {} : { reported: s.reported }),
    ...(s.hasDelta === undefined ? {} : { hasDelta: s.hasDelta }),
    ...(s.version === undefined ? {} : { version: s.version }),
  };
}

/**
 * The `shadow` member of a SearchIndex result: a JSON string of the classic shadow's
 * `desired`/`reported`/`hasDelta`/`version`, with indexed named shadows under `name`.
 */
function shadowJson(t: IndexedThing, c: ThingIndexingConfiguration): string | undefined {
  if (c.thingIndexingMode !== 'REGISTRY_AND_SHADOW') return undefined;
  const doc: Record<string, unknown> = t.shadow ? shadowDocument(t.shadow) : {};
  if (namedShadowsIndexed(c)) {
    const allowed = c.filter?.namedShadowNames;
    const named = Object.entries(t.namedShadows).filter(
      ([n]) => allowed === undefined || allowed.includes(n),
    );
    if (named.length) doc.name = Object.fromEntries(named.map(([n, s]) => [n, shadowDocument(s)]));
  }
  return t.shadow || doc.name ? JSON.stringify(doc) : undefined;
}

function schemaOf(c: ThingIndexingConfiguration): string {
  const shadow = c.thingIndexingMode === 'REGISTRY_AND_SHADOW' ? '_AND_SHADOW' : '';
  const connectivity = c.thingConnectivityIndexingMode === 'STATUS' ? '_AND_CONNECTIVITY_STATUS' : '';
  return `REGISTRY${shadow}${connectivity}`;
}

export function fleetIndexHandlers(store: RegistryStore): Record<string, AwsHandler> {
  const requireIndex = async (indexName: string | undefined) => {
    const config = await loadIndexingConfiguration(store);
    const name = indexName ?? THINGS_INDEX;
    if (name !== THINGS_INDEX) throw notFound(`Index ${name} does not exist`);
    if (config.thingIndexingConfiguration.thingIndexingMode === 'OFF')
      throw new OtterError('IndexNotReadyException', `Index ${THINGS_INDEX} is not ready`);
    return config.thingIndexingConfiguration;
  };

  return {
    SearchIndex: async (input: {
      indexName?: string;
      queryString: string;
      maxResults?: number;
      nextToken?: string;
      queryVersion?: string;
    }) => {
      const config = await requireIndex(input.indexName);
      const query = checkFields(input.queryString, config);
      const limit = Math.min(input.maxResults ?? SEARCH_MAX_RESULTS, SEARCH_MAX_RESULTS);
      const page = await store.searchThings(query, { after: decodeToken(input.nextToken), limit });
      const things = [];
      for (const record of page.items) {
        const t = await store.indexedThing(record.thingName);
        if (!t) continue;
        const shadow = shadowJson(t, config);
        things.push({
          thingName: t.thingName,
          thingId: t.thingId,
          thingTypeName: t.thingTypeName,
          thingGroupNames: t.thingGroupNames.length ? [...t.thingGroupNames] : undefined,
          attributes: t.attributes,
          shadow,
          connectivity:
            config.thingConnectivityIndexingMode === 'STATUS' && t.connectivity
              ? {
                  connected: t.connectivity.connected,
                  timestamp: t.connectivity.timestamp,
                  disconnectReason: t.connectivity.disconnectReason,
                }
              : undefined,
        });
      }
      return { things, thingGroups: [], nextToken: encodeToken(page.nextToken) };
    },

    GetIndexingConfiguration: async () => {
      const c = await loadIndexingConfiguration(store);
      return {
        thingIndexingConfiguration: c.thingIndexingConfiguration,
        thingGroupIndexingConfiguration: c.thingGroupIndexingConfiguration,
      };
    },

    UpdateIndexingConfiguration: async (input: {
      thingIndexingConfiguration?: ThingIndexingConfiguration;
      thingGroupIndexingConfiguration?: ThingGroupIndexingConfiguration;
    }) => {
      const current = await loadIndexingConfiguration(store);
      const thing = input.thingIndexingConfiguration;
      if (thing) {
        if (thing.thingIndexingMode === 'OFF' && thing.thingConnectivityIndexingMode === 'STATUS')
          throw invalidRequest(
            'thingConnectivityIndexingMode STATUS requires thingIndexingMode REGISTRY or REGISTRY_AND_SHADOW',
          );
        if (thing.thingIndexingMode !== 'REGISTRY_AND_SHADOW' && thing.namedShadowIndexingMode === 'ON')
          throw invalidRequest('namedShadowIndexingMode ON requires thingIndexingMode REGISTRY_AND_SHADOW');
      }
      await store.settings.put(INDEXING_CONFIGURATION_KEY, {
        thingIndexingConfiguration: thing ?? current.thingIndexingConfiguration,
        thingGroupIndexingConfiguration:
          input.thingGroupIndexingConfiguration ?? current.thingGroupIndexingConfiguration,
      });
      return {};
    },

    DescribeIndex: async (input: { indexName: string }) => {
      const config = await requireIndex(input.indexName);
      return { indexName: THINGS_INDEX, indexStatus: 'ACTIVE', schema: schemaOf(config) };
    },

    ListIndices: async () => {
      const c = await loadIndexingConfiguration(store);
      return { indexNames: c.thingIndexingConfiguration.thingIndexingMode === 'OFF' ? [] : [THINGS_INDEX] };
    },
  };
}
