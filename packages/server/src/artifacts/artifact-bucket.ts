import type { BlobStore } from './blob-store.js';
import { S3BlobStore } from './s3-blob-store.js';

/** The bucket name that stands for Otter's own artifact store when artifacts live on the file system. */
export const FS_ARTIFACT_BUCKET = 'otter';

/**
 * The bucket a package version's `artifact.s3Location.bucket` names for an Otter artifact: the real
 * bucket with S3 storage, else `otter`. Clients learn it from the `x-otter-bucket` response header.
 */
export function artifactBucketOf(blobs: BlobStore): string {
  return blobs instanceof S3BlobStore ? blobs.bucket : FS_ARTIFACT_BUCKET;
}
