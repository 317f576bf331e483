/**
 * The check UpdatePackageVersion runs before a version becomes PUBLISHED (docs/packages.md): a
 * version that names an artifact must name one Otter stores, whose SHA-256 and size match the
 * version's `sha256` and `size` attributes, and whose signature attributes verify against the
 * artifact's real SHA-256. Anything wrong is a ValidationException, and nothing changes.
 */
import { OtterError } from '@otter/core';
import { validateArtifactName } from '../artifacts/artifact-name.js';
import type { PublishCheck } from '../store/package-store.js';
import type { RegistryStore } from '../store/registry-store.js';
import { verifyVersionSignature } from './signatures.js';

/**
 * Attributes that mark a version as signed by Otter's scheme (`otter package push --sign` sets
 * both): either starts the signature check. A `signature` attribute alone is the user's own
 * (seed 000 passes an opaque signature to devices that way) and is not checked here.
 */
const SIGNATURE_MARKERS = ['signatureAlgorithm', 'signingKeyId'] as const;

const validation = (message: string) => new OtterError('ValidationException', message);

export interface PublishCheckOptions {
  store: RegistryStore;
  /** Otter's artifact bucket (artifactBucketOf). */
  bucket: string;
}

/** The publish check for UpdatePackageVersion's PUBLISH (HandlerDeps.publishCheck). */
export function createPublishCheck({ store, bucket }: PublishCheckOptions): PublishCheck {
  return async (version) => {
    const attributes = version.attributes;
    const what = `Publish check of ${version.packageName} ${version.versionName}`;
    let artifactSha256: string | undefined;
    const location = version.artifact?.s3Location;
    if (location) {
      if (location.bucket !== bucket) {
        throw validation(
          `${what}: artifact.s3Location.bucket ${JSON.stringify(location.bucket)} is not Otter's artifact ` +
            `bucket; name the artifact with bucket ${JSON.stringify(bucket)} and key = its artifact name`,
        );
      }
      try {
        validateArtifactName(location.key);
      } catch (e) {
        throw validation(`${what}: artifact.s3Location.key: ${(e as Error).message}`);
      }
      const artifact = await store.artifacts.get(location.key);
      if (!artifact) {
        throw validation(
          `${what}: artifact ${location.key} does not exist (upload it first: otter package push, or ` +
            `PUT /v1/artifacts/${location.key})`,
        );
      }
      const sha256 = attributes.sha256;
      if (sha256 !== undefined && sha256.toLowerCase() !== artifact.sha256) {
        throw validation(
          `${what}: attribute sha256 ${JSON.stringify(sha256.slice(0, 80))} does not match artifact ` +
            `${artifact.name}, whose SHA-256 is ${artifact.sha256}`,
        );
      }
      const size = attributes.size;
      if (size !== undefined && size !== String(artifact.size)) {
        throw validation(
          `${what}: attribute size ${JSON.stringify(size.slice(0, 80))} does not match artifact ` +
            `${artifact.name}, which has ${artifact.size} bytes`,
        );
      }
      artifactSha256 = artifact.sha256;
    }
    if (SIGNATURE_MARKERS.some((a) => attributes[a] !== undefined)) {
      // Against the stored bytes' digest when there is an artifact: a signature of some other file
      // with a matching `sha256` attribute must not pass.
      const fields = {
        sha256: artifactSha256 ?? attributes.sha256,
        signature: attributes.signature,
        signatureAlgorithm: attributes.signatureAlgorithm,
        signingKeyId: attributes.signingKeyId,
      };
      await verifyVersionSignature(
        store,
        Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
      );
    }
  };
}
