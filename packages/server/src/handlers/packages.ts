import type { Clock } from '@otter/core';
import type { AwsContext, AwsHandler } from '../aws/aws-plane.js';
import { loadServiceModel } from '../aws/model.js';
import { IdempotencyStore } from '../store/idempotency-store.js';
import type { PackageVersionAction, RegistryStore } from '../store/index.js';
import type { PublishCheck, S3Location } from '../store/package-store.js';
import type { PackageRecord, PackageVersionRecord, PackageVersionStatus } from '../store/records.js';
import { withClientTokens } from './idempotency.js';
import { decodeToken, encodeToken, pageSize, seconds } from './paging.js';

export type { PublishCheck };

/** The artifact or SBOM member of a request: `{ s3Location: { bucket, key, version? } }`. */
interface LocationInput {
  s3Location?: Partial<S3Location>;
}

/** Where UpdatePackageConfiguration keeps its document. */
const CONFIGURATION_KEY = 'packageConfiguration';

interface VersionUpdateByJobsConfig {
  enabled?: boolean;
  roleArn?: string;
}

const packageArn = (ctx: AwsContext, name: string) => ctx.arn(`package/${name}`);
const versionArn = (ctx: AwsContext, pkg: string, version: string) =>
  ctx.arn(`package/${pkg}/version/${version}`);

const attributesOrUndefined = (a: Record<string, string>) => (Object.keys(a).length ? a : undefined);

function packageSummary(p: PackageRecord) {
  return {
    packageName: p.packageName,
    defaultVersionName: p.defaultVersionName,
    creationDate: seconds(p.createdAt),
    lastModifiedDate: seconds(p.updatedAt),
  };
}

function versionSummary(v: PackageVersionRecord) {
  return {
    packageName: v.packageName,
    versionName: v.versionName,
    status: v.status,
    creationDate: seconds(v.createdAt),
    lastModifiedDate: seconds(v.updatedAt),
  };
}

export interface PackageHandlerOptions {
  /** Runs inside UpdatePackageVersion's PUBLISH before the status changes; default: accept. */
  publishCheck?: PublishCheck | undefined;
}

/** The Software Package Catalog operations; those whose model declares `clientToken` are idempotent. */
export function packageHandlers(
  store: RegistryStore,
  clock: Clock,
  options: PackageHandlerOptions = {},
): Record<string, AwsHandler> {
  const publishCheck: PublishCheck = options.publishCheck ?? (async () => {});
  const handlers: Record<string, AwsHandler> = {
    CreatePackage: async (
      input: { packageName: string; description?: string; tags?: Record<string, string> },
      ctx,
    ) => {
      const p = await store.packages.create(input.packageName, input.description, clock.now());
      if (input.tags && Object.keys(input.tags).length)
        await store.tags.tag('package', p.packageName, input.tags);
      return {
        packageName: p.packageName,
        packageArn: packageArn(ctx, p.packageName),
        description: p.description,
      };
    },
    GetPackage: async (input: { packageName: string }, ctx) => {
      const p = await store.packages.describe(input.packageName);
      return {
        packageName: p.packageName,
        packageArn: packageArn(ctx, p.packageName),
        description: p.description,
        defaultVersionName: p.defaultVersionName,
        creationDate: seconds(p.createdAt),
        lastModifiedDate: seconds(p.updatedAt),
      };
    },
    ListPackages: async (input: { maxResults?: number; nextToken?: string }) => {
      const page = await store.packages.list({
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 100),
      });
      return { packageSummaries: page.items.map(packageSummary), nextToken: encodeToken(page.nextToken) };
    },
    UpdatePackage: async (input: {
      packageName: string;
      description?: string;
      defaultVersionName?: string;
      unsetDefaultVersion?: boolean;
    }) => {
      await store.packages.update(
        input.packageName,
        {
          description: input.description,
          defaultVersionName: input.defaultVersionName,
          unsetDefaultVersion: input.unsetDefaultVersion,
        },
        clock.now(),
      );
      return {};
    },
    DeletePackage: async (input: { packageName: string }) => {
      await store.packages.delete(input.packageName);
      return {};
    },
    CreatePackageVersion: async (
      input: {
        packageName: string;
        versionName: string;
        description?: string;
        attributes?: Record<string, string>;
        artifact?: LocationInput;
        recipe?: string;
        tags?: Record<string, string>;
      },
      ctx,
    ) => {
      const v = await store.packages.createVersion(
        input.packageName,
        input.versionName,
        {
          description: input.description,
          attributes: input.attributes,
          artifact: input.artifact,
          recipe: input.recipe,
        },
        clock.now(),
      );
      if (input.tags && Object.keys(input.tags).length)
        await store.tags.tag('packageVersion', `${v.packageName}/${v.versionName}`, input.tags);
      return {
        packageVersionArn: versionArn(ctx, v.packageName, v.versionName),
        description: v.description,
        attributes: attributesOrUndefined(v.attributes),
        status: v.status,
        errorReason: v.errorReason,
        packageName: v.packageName,
        versionName: v.versionName,
      };
    },
    GetPackageVersion: async (input: { packageName: string; versionName: string }, ctx) => {
      const v = await store.packages.describeVersion(input.packageName, input.versionName);
      return {
        packageVersionArn: versionArn(ctx, v.packageName, v.versionName),
        packageName: v.packageName,
        versionName: v.versionName,
        description: v.description,
        attributes: attributesOrUndefined(v.attributes),
        artifact: v.artifact,
        recipe: v.recipe,
        sbom: v.sbom,
        sbomValidationStatus: v.sbomValidationStatus,
        status: v.status,
        errorReason: v.errorReason,
        creationDate: seconds(v.createdAt),
        lastModifiedDate: seconds(v.updatedAt),
      };
    },
    ListPackageVersions: async (input: {
      packageName: string;
      status?: PackageVersionStatus;
      maxResults?: number;
      nextToken?: string;
    }) => {
      const page = await store.packages.listVersions(input.packageName, {
        status: input.status,
        after: decodeToken(input.nextToken),
        limit: pageSize(input.maxResults, 100),
      });
      return {
        packageVersionSummaries: page.items.map(versionSummary),
        nextToken: encodeToken(page.nextToken),
      };
    },
    UpdatePackageVersion: async (input: {
      packageName: string;
      versionName: string;
      description?: string;
      attributes?: Record<string, string>;
      artifact?: LocationInput;
      recipe?: string;
      action?: PackageVersionAction;
    }) => {
      await store.packages.updateVersion(
        input.packageName,
        input.versionName,
        {
          description: input.description,
          attributes: input.attributes,
          artifact: input.artifact,
          recipe: input.recipe,
          action: input.action,
        },
        clock.now(),
        publishCheck,
      );
      return {};
    },
    DeletePackageVersion: async (input: { packageName: string; versionName: string }) => {
      await store.packages.deleteVersion(input.packageName, input.versionName);
      return {};
    },
    GetPackageConfiguration: async () => {
      const config = await store.settings.get<VersionUpdateByJobsConfig>(CONFIGURATION_KEY);
      return { versionUpdateByJobsConfig: config ?? { enabled: false } };
    },
    UpdatePackageConfiguration: async (input: { versionUpdateByJobsConfig?: VersionUpdateByJobsConfig }) => {
      const incoming = input.versionUpdateByJobsConfig;
      if (incoming) {
        const current = (await store.settings.get<VersionUpdateByJobsConfig>(CONFIGURATION_KEY)) ?? {
          enabled: false,
        };
        await store.settings.put(CONFIGURATION_KEY, { ...current, ...incoming });
      }
      return {};
    },
    AssociateSbomWithPackageVersion: async (input: {
      packageName: string;
      versionName: string;
      sbom: LocationInput;
    }) => {
      const v = await store.packages.associateSbom(
        input.packageName,
        input.versionName,
        input.sbom,
        clock.now(),
      );
      return {
        packageName: v.packageName,
        versionName: v.versionName,
        sbom: v.sbom,
        sbomValidationStatus: v.sbomValidationStatus,
      };
    },
    DisassociateSbomFromPackageVersion: async (input: { packageName: string; versionName: string }) => {
      await store.packages.disassociateSbom(input.packageName, input.versionName, clock.now());
      return {};
    },
    ListSbomValidationResults: async (input: {
      packageName: string;
      versionName: string;
      validationResult?: 'FAILED' | 'SUCCEEDED';
      maxResults?: number;
      nextToken?: string;
    }) => {
      decodeToken(input.nextToken);
      const v = await store.packages.describeVersion(input.packageName, input.versionName);
      // One result per associated SBOM file; Otter does not validate content, so it succeeded.
      const results =
        v.sbom && input.nextToken === undefined
          ? [{ fileName: v.sbom.s3Location.key.split('/').pop(), validationResult: 'SUCCEEDED' }]
          : [];
      return {
        validationResultSummaries: results.filter(
          (r) => input.validationResult === undefined || r.validationResult === input.validationResult,
        ),
      };
    },
  };
  return withClientTokens(handlers, loadServiceModel('iot'), new IdempotencyStore(store.db), clock);
}
