export {
  type DigestSignature,
  signDigest,
  toDigestBytes,
  type VerifyDigestSignatureInput,
  verifyDigestSignature,
} from './digest-signatures.js';
export * from './signing-errors.js';
export {
  generateSigningKey,
  isSigningAlgorithm,
  type PrivateSigningKey,
  type PublicSigningKey,
  parsePrivateKey,
  parsePublicKey,
  publicKeyOf,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  toSigningAlgorithm,
} from './signing-keys.js';
