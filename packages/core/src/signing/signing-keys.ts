/**
 * Signing keys: generation, PEM parsing with algorithm detection, key ids. Keys travel as PEM
 * (private: PKCS#8, public: SPKI) so that openssl and the device side read the same files.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { SigningError, SigningKeyError } from './signing-errors.js';

/** The signature algorithms Otter signs and verifies with. */
export const SIGNING_ALGORITHMS = ['ED25519', 'ECDSA_P256_SHA256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const isSigningAlgorithm = (value: unknown): value is SigningAlgorithm =>
  (SIGNING_ALGORITHMS as readonly unknown[]).includes(value);

/** Throws SigningError for anything that is not one of SIGNING_ALGORITHMS. */
export function toSigningAlgorithm(value: unknown): SigningAlgorithm {
  if (isSigningAlgorithm(value)) return value;
  throw new SigningError(
    'UNKNOWN_ALGORITHM',
    `Unknown signature algorithm ${JSON.stringify(value)}; expected one of ${SIGNING_ALGORITHMS.join(', ')}`,
  );
}

/** A public key Otter can verify with. */
export interface PublicSigningKey {
  algorithm: SigningAlgorithm;
  /** SPKI PEM, normalized (what `openssl pkey -pubout` prints). */
  publicKeyPem: string;
  /** First 16 bytes of SHA-256 over the SPKI DER, as 32 hex digits. */
  keyId: string;
}

/** A private key Otter can sign with, and its public half. */
export interface PrivateSigningKey extends PublicSigningKey {
  /** PKCS#8 PEM, unencrypted. */
  privateKeyPem: string;
}

interface PemBlock {
  label: string;
  text: string;
  encrypted: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const PRIVATE_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY']);
const SUPPORTED = 'Otter signs with Ed25519 or ECDSA P-256 (prime256v1) keys';

function pemBlocks(pem: unknown, what: string): PemBlock[] {
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) {
    throw new SigningKeyError('INVALID_PEM', `The ${what} must be PEM text`);
  }
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({
    label: m[1]!,
    text: m[0],
    encrypted: /^Proc-Type:\s*4,\s*ENCRYPTED/m.test(m[2]!),
  }));
  // `openssl ecparam -genkey` prints the curve parameters before the key: they add nothing.
  const keys = blocks.filter((b) => b.label !== 'EC PARAMETERS');
  if (keys.length === 0) {
    throw new SigningKeyError('INVALID_PEM', `The ${what} is not PEM: expected a -----BEGIN ...----- block`);
  }
  if (keys.length > 1) {
    throw new SigningKeyError(
      'INVALID_PEM',
      `The ${what} holds ${keys.length} PEM blocks (${keys.map((k) => k.label).join(', ')}); give exactly one key`,
    );
  }
  return keys;
}

function rejectUnusableLabel(block: PemBlock): void {
  if (block.label === 'ENCRYPTED PRIVATE KEY' || block.encrypted) {
    throw new SigningKeyError(
      'ENCRYPTED_KEY',
      'The private key is encrypted with a passphrase; decrypt it first (openssl pkey -in KEY -out PLAIN)',
    );
  }
  if (block.label.startsWith('RSA ') || block.label.startsWith('DSA ')) {
    throw new SigningKeyError(
      'UNSUPPORTED_KEY',
      `${block.label.split(' ')[0]} keys are not supported; ${SUPPORTED}`,
    );
  }
}

function algorithmOf(key: KeyObject): SigningAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'ED25519';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ECDSA_P256_SHA256';
    const nice =
      curve === 'secp384r1' ? 'P-384 (secp384r1)' : curve === 'secp521r1' ? 'P-521 (secp521r1)' : curve;
    throw new SigningKeyError(
      'UNSUPPORTED_KEY',
      `EC keys on curve ${nice ?? 'unknown'} are not supported; ${SUPPORTED}`,
    );
  }
  throw new SigningKeyError(
    'UNSUPPORTED_KEY',
    `${(type ?? 'unknown').toUpperCase()} keys are not supported; ${SUPPORTED}`,
  );
}

/** 32 hex digits: the first 16 bytes of SHA-256 over the public key's SPKI DER. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 32);
}

function describePublic(publicKey: KeyObject, algorithm: SigningAlgorithm): PublicSigningKey {
  return {
    algorithm,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** The node:crypto key object of a private key PEM, with its algorithm. Throws SigningKeyError. */
export function privateKeyObject(pem: unknown): { key: KeyObject; algorithm: SigningAlgorithm } {
  const [block] = pemBlocks(pem, 'private key');
  rejectUnusableLabel(block!);
  if (block!.label === 'PUBLIC KEY') {
    throw new SigningKeyError(
      'WRONG_KEY_KIND',
      'This is a public key; a private key (PKCS#8 or SEC1 PEM) is needed to sign',
    );
  }
  if (!PRIVATE_LABELS.has(block!.label)) {
    throw new SigningKeyError('INVALID_PEM', `A PEM block of type ${block!.label} is not a private key`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block!.text, format: 'pem' });
  } catch (e) {
    throw new SigningKeyError('INVALID_PEM', `The private key PEM cannot be read (${(e as Error).message})`);
  }
  return { key, algorithm: algorithmOf(key) };
}

/** The node:crypto key object of a public key PEM (SPKI), with its algorithm. Throws SigningKeyError. */
export function publicKeyObject(pem: unknown): { key: KeyObject; algorithm: SigningAlgorithm } {
  const [block] = pemBlocks(pem, 'public key');
  rejectUnusableLabel(block!);
  if (PRIVATE_LABELS.has(block!.label) || block!.label.endsWith('PRIVATE KEY')) {
    throw new SigningKeyError(
      'WRONG_KEY_KIND',
      'This is a private key; give the public key only (openssl pkey -in KEY -pubout)',
    );
  }
  if (block!.label === 'CERTIFICATE') {
    throw new SigningKeyError(
      'WRONG_KEY_KIND',
      'This is a certificate; give its public key (openssl x509 -in CERT -pubkey -noout)',
    );
  }
  if (block!.label !== 'PUBLIC KEY') {
    throw new SigningKeyError(
      'INVALID_PEM',
      `A PEM block of type ${block!.label} is not a public key (SPKI "PUBLIC KEY")`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block!.text, format: 'pem' });
  } catch (e) {
    throw new SigningKeyError('INVALID_PEM', `The public key PEM cannot be read (${(e as Error).message})`);
  }
  return { key, algorithm: algorithmOf(key) };
}

/** Reads a private key PEM (PKCS#8, or SEC1 for EC), detecting its algorithm. */
export function parsePrivateKey(pem: unknown): PrivateSigningKey {
  const { key, algorithm } = privateKeyObject(pem);
  return {
    ...describePublic(createPublicKey(key), algorithm),
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Reads a public key PEM (SPKI), detecting its algorithm. Private keys are refused. */
export function parsePublicKey(pem: unknown): PublicSigningKey {
  const { key, algorithm } = publicKeyObject(pem);
  return describePublic(key, algorithm);
}

/** The public half of a private key PEM. */
export function publicKeyOf(privateKeyPem: unknown): PublicSigningKey {
  const { key, algorithm } = privateKeyObject(privateKeyPem);
  return describePublic(createPublicKey(key), algorithm);
}

/** A new key pair. */
export function generateSigningKey(algorithm: SigningAlgorithm): PrivateSigningKey {
  const alg = toSigningAlgorithm(algorithm);
  const { privateKey } =
    alg === 'ED25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
}
