/**
 * Server-side signature check of a package version's artifact, so a tampered or mis-signed
 * version is refused at publish time (the device verifies again before installing).
 */
import { isSigningAlgorithm, isSigningError, OtterError, verifyDigestSignature } from '@otter/core';
import type { RegistryStore } from '../store/registry-store.js';
import type { SigningKeyRecord } from '../store/signing-key-store.js';

export interface VersionSignature {
  /** Hex SHA-256 of the artifact. */
  sha256: string;
  /** base64 (see docs/signing.md). */
  signature: string;
  /** ED25519 or ECDSA_P256_SHA256. */
  signatureAlgorithm: string;
  /** The registered key's keyId (32 hex digits); a registered key name is accepted too. */
  signingKeyId: string;
}

const validation = (message: string) => new OtterError('ValidationException', message);

/**
 * Checks that `signature` is a valid signature of `sha256` by a registered key, and returns that
 * key. Throws ValidationException naming the problem: a missing or malformed field, an unknown
 * key, an algorithm that is not the key's, or a signature that does not verify.
 */
export async function verifyVersionSignature(
  store: RegistryStore,
  input: Partial<VersionSignature>,
): Promise<SigningKeyRecord> {
  const missing = (['sha256', 'signature', 'signatureAlgorithm', 'signingKeyId'] as const).filter(
    (field) => typeof input[field] !== 'string' || input[field] === '',
  );
  if (missing.length > 0) throw validation(`Signature check: missing ${missing.join(', ')}`);
  const { sha256, signature, signatureAlgorithm, signingKeyId } = input as VersionSignature;
  if (!/^[0-9a-f]{64}$/i.test(sha256)) {
    throw validation(
      `Signature check: sha256 must be 64 hex digits, got ${JSON.stringify(sha256.slice(0, 80))}`,
    );
  }
  if (!isSigningAlgorithm(signatureAlgorithm)) {
    throw validation(
      `Signature check: unknown signature algorithm ${JSON.stringify(signatureAlgorithm.slice(0, 80))}; ` +
        'expected ED25519 or ECDSA_P256_SHA256',
    );
  }
  const key =
    (await store.signingKeys.getByKeyId(signingKeyId.toLowerCase())) ??
    (await store.signingKeys.get(signingKeyId));
  if (!key) {
    throw validation(
      `Signature check: signing key ${JSON.stringify(signingKeyId.slice(0, 80))} is not registered ` +
        '(register its public key: otter keys register NAME)',
    );
  }
  if (key.algorithm !== signatureAlgorithm) {
    throw validation(
      `Signature check: signature algorithm ${signatureAlgorithm} does not match signing key ${key.name}, ` +
        `which is ${key.algorithm}`,
    );
  }
  let valid: boolean;
  try {
    valid = verifyDigestSignature({
      algorithm: signatureAlgorithm,
      publicKeyPem: key.publicKeyPem,
      digest: sha256,
      signature,
    });
  } catch (e) {
    if (isSigningError(e)) throw validation(`Signature check: ${e.message}`);
    throw e;
  }
  if (!valid) {
    throw validation(
      `Signature check: the signature is not a valid ${signatureAlgorithm} signature of sha256 ${sha256} ` +
        `by signing key ${key.name} (keyId ${key.keyId})`,
    );
  }
  return key;
}
