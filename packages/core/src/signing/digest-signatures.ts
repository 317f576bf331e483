/**
 * Signatures over an artifact's SHA-256 digest (32 bytes), so a device can verify after streaming
 * the download without holding the file:
 * - ED25519: pure Ed25519 (RFC 8032) with the 32 digest bytes as the message; 64 raw bytes.
 * - ECDSA_P256_SHA256: ECDSA P-256 with the digest as the message hash (what `openssl dgst -sha256
 *   -sign` produces over the file, and what AWS/FreeRTOS OTA `sig-sha256-ecdsa` expects); ASN.1 DER,
 *   the 64-byte r‖s form is accepted too. node:crypto cannot take a prehashed digest, @noble/curves can.
 * Signatures travel as base64.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { SigningError, SigningKeyError } from './signing-errors.js';
import {
  keyIdOf,
  privateKeyObject,
  publicKeyObject,
  type SigningAlgorithm,
  toSigningAlgorithm,
} from './signing-keys.js';

export interface DigestSignature {
  algorithm: SigningAlgorithm;
  /** keyId of the signing key (see keyIdOf). */
  keyId: string;
  /** base64: DER for ECDSA, 64 raw bytes for Ed25519. */
  signature: string;
}

export interface VerifyDigestSignatureInput {
  algorithm: SigningAlgorithm | string;
  publicKeyPem: string;
  /** SHA-256 of the artifact: 32 bytes, or 64 hex digits. */
  digest: Uint8Array | string;
  /** base64 (or the raw bytes). */
  signature: string | Uint8Array;
}

/** The 32 digest bytes from bytes or hex; SigningError otherwise. */
export function toDigestBytes(digest: Uint8Array | string): Uint8Array {
  if (typeof digest === 'string') {
    if (!/^[0-9a-fA-F]{64}$/.test(digest)) {
      throw new SigningError('INVALID_DIGEST', 'The digest must be a SHA-256: 64 hex digits (32 bytes)');
    }
    return Uint8Array.from(Buffer.from(digest, 'hex'));
  }
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new SigningError('INVALID_DIGEST', 'The digest must be a SHA-256: 32 bytes');
  }
  return Uint8Array.from(digest);
}

const b64url = (s: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(s ?? '', 'base64url'));

/** Raw scalar of a P-256 private key (32 bytes), as noble takes it. */
const p256Secret = (key: KeyObject): Uint8Array => b64url(key.export({ format: 'jwk' }).d);

/** Uncompressed SEC1 point (0x04 ‖ x ‖ y) of a P-256 public key. */
function p256Point(key: KeyObject): Uint8Array {
  const { x, y } = key.export({ format: 'jwk' });
  return Uint8Array.from([4, ...b64url(x), ...b64url(y)]);
}

/** Signs a SHA-256 digest with a private key PEM; the algorithm follows the key. */
export function signDigest(privateKeyPem: string, digest: Uint8Array | string): DigestSignature {
  const { key, algorithm } = privateKeyObject(privateKeyPem);
  const message = toDigestBytes(digest);
  const signature =
    algorithm === 'ED25519'
      ? cryptoSign(null, message, key)
      : p256.sign(message, p256Secret(key), { prehash: false, format: 'der' });
  return {
    algorithm,
    keyId: keyIdOf(key),
    signature: Buffer.from(signature).toString('base64'),
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function signatureBytes(signature: string | Uint8Array): Uint8Array | undefined {
  if (signature instanceof Uint8Array) return Uint8Array.from(signature);
  if (typeof signature !== 'string') return undefined;
  const text = signature.replace(/\s+/g, '');
  return BASE64.test(text) ? Uint8Array.from(Buffer.from(text, 'base64')) : undefined;
}

/**
 * True when `signature` is a valid signature of `digest` by `publicKeyPem` under `algorithm`.
 * False for any wrong, tampered or malformed signature; throws SigningKeyError for an unusable key
 * or an algorithm that is not the key's, SigningError for a digest that is not 32 bytes.
 */
export function verifyDigestSignature(input: VerifyDigestSignatureInput): boolean {
  const algorithm = toSigningAlgorithm(input.algorithm);
  const { key, algorithm: keyAlgorithm } = publicKeyObject(input.publicKeyPem);
  if (keyAlgorithm !== algorithm) {
    throw new SigningKeyError(
      'ALGORITHM_MISMATCH',
      `The signature algorithm ${algorithm} does not match the key, which is ${keyAlgorithm}`,
    );
  }
  const message = toDigestBytes(input.digest);
  const sig = signatureBytes(input.signature);
  if (sig === undefined || sig.length === 0) return false;
  try {
    if (algorithm === 'ED25519') return sig.length === 64 && cryptoVerify(null, message, key, sig);
    // openssl does not normalize s: high-S signatures are valid ECDSA and must verify.
    const format = sig.length === 64 ? 'compact' : 'der';
    return p256.verify(sig, message, p256Point(key), { prehash: false, lowS: false, format });
  } catch {
    return false;
  }
}
