import { DownloadError } from './download-error.js';

export interface ArtifactSignature {
  /** ED25519 or ECDSA_P256_SHA256 (docs/signing.md). */
  readonly algorithm: string;
  /** base64. */
  readonly signature: string;
  /** keyId of the signing key; without it every trusted key of the algorithm is tried. */
  readonly keyId?: string;
}

export interface TrustedPublicKey {
  readonly publicKeyPem: string;
  readonly algorithm: string;
  readonly keyId: string;
}

/**
 * Checks `signature` over the SHA-256 `digest` against the trusted keys: SIGNATURE_MISSING,
 * UNTRUSTED_KEY (no trusted key with that keyId / algorithm) or SIGNATURE_INVALID otherwise.
 * Core's signing code (and @noble/curves, about 10 MiB once loaded) is imported on the first
 * signature to check, so an idle agent does not hold it.
 */
export async function verifyArtifactSignature(
  digestHex: string,
  signature: ArtifactSignature | undefined,
  trustedKeys: readonly TrustedPublicKey[],
  requireSignature: boolean,
): Promise<void> {
  if (signature === undefined) {
    if (requireSignature)
      throw new DownloadError('SIGNATURE_MISSING', 'The artifact is not signed and signatures are required');
    return;
  }
  const candidates =
    signature.keyId === undefined
      ? trustedKeys.filter((k) => k.algorithm === signature.algorithm)
      : trustedKeys.filter((k) => k.keyId === signature.keyId);
  if (candidates.length === 0) {
    throw new DownloadError(
      'UNTRUSTED_KEY',
      signature.keyId === undefined
        ? `No trusted key uses ${signature.algorithm}`
        : `The artifact is signed by key ${signature.keyId}, which is not trusted`,
    );
  }
  const { verifyDigestSignature } = await import('@otter/core/signing');
  for (const key of candidates) {
    try {
      if (
        verifyDigestSignature({
          algorithm: signature.algorithm,
          publicKeyPem: key.publicKeyPem,
          digest: digestHex,
          signature: signature.signature,
        })
      ) {
        return;
      }
    } catch {
      // an algorithm that is not this key's: not a match
    }
  }
  throw new DownloadError(
    'SIGNATURE_INVALID',
    'The signature does not verify against the trusted key (tampered artifact or signature)',
  );
}
