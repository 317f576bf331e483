import { createHmac, timingSafeEqual } from 'node:crypto';

/** Label of the default presign key, derived from the secret access key. */
export const PRESIGN_KEY_LABEL = 'otter-presign-v1';
export const PRESIGN_EXPIRES_PARAM = 'X-Otter-Expires';
export const PRESIGN_SIGNATURE_PARAM = 'X-Otter-Signature';

/** The default key: HMAC-SHA256(secretAccessKey, "otter-presign-v1"); equal on every node sharing keys. */
export const derivePresignSecret = (secretAccessKey: string): Buffer =>
  createHmac('sha256', secretAccessKey).update(PRESIGN_KEY_LABEL).digest();

/**
 * base64url HMAC-SHA256 over `GET\n<path>\n<expires>\n<sha256>`. Binding the content hash makes a
 * URL die with the content it was issued for.
 */
export function presignSignature(secret: Buffer, path: string, expires: number, sha256: string): string {
  return createHmac('sha256', secret).update(`GET\n${path}\n${expires}\n${sha256}`).digest('base64url');
}

/** Constant-time comparison of two signatures. */
export function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
