/**
 * Test support: sign requests with the real AWS SDK v3 signer and turn them into what the server
 * sees on the wire. Imported by the *.test.ts files of this folder only.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { type ErrorType, OtterError } from '@otter/core';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, QueryParameterBag } from '@smithy/types';
import { type SignedRequest, type SigV4Options, verifySigV4 } from './verify-sigv4.js';

export const CREDENTIALS = {
  accessKeyId: 'AKIAOTTERTEST0000001',
  secretAccessKey: 'otter/Secret+Key/ForTests0000000000000',
};
export const HOST = 'iot.otter.test:8443';
/** 2026-01-01T00:20:00Z */
export const NOW = Date.UTC(2026, 0, 1, 0, 20, 0);
export const FIVE_MINUTES = 5 * 60_000;

export const sha256Hex = (body: string | Uint8Array): string =>
  createHash('sha256').update(body).digest('hex');
export const EMPTY_SHA256 = sha256Hex('');

export const options = (overrides: Partial<SigV4Options> = {}): SigV4Options => ({
  lookupSecret: (id) => (id === CREDENTIALS.accessKeyId ? CREDENTIALS.secretAccessKey : undefined),
  now: NOW,
  maxSkewMs: FIVE_MINUTES,
  ...overrides,
});

/** The SDK's URI escaping (smithy `escapeUri`): encodeURIComponent plus `!'()*`. */
export const escapeUri = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The query string as the SDK's HTTP handler writes it (smithy `buildQueryString`). */
export function wireQuery(query: QueryParameterBag | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const one of Array.isArray(value) ? value : value === null ? [] : [value]) {
      parts.push(`${escapeUri(name)}=${escapeUri(one)}`);
    }
  }
  return parts.join('&');
}

export interface TestRequest {
  method?: string;
  /** the path as it will be on the wire, already percent-encoded */
  path: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
}

export interface SignOptions {
  service?: string;
  region?: string;
  signingDate?: Date;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** send `x-amz-content-sha256: UNSIGNED-PAYLOAD` (otherwise the SDK signs the body's hash) */
  unsignedPayload?: boolean;
}

const signer = (opts: SignOptions) =>
  new SignatureV4({
    credentials: opts.credentials ?? CREDENTIALS,
    region: opts.region ?? 'us-east-1',
    service: opts.service ?? 'iot',
    sha256: Sha256,
  });

function toSmithy(input: TestRequest, opts: SignOptions): HttpRequest {
  const headers: Record<string, string> = { host: HOST, ...input.headers };
  if (opts.unsignedPayload) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return {
    method: input.method ?? 'GET',
    protocol: 'https:',
    hostname: HOST.split(':')[0]!,
    port: 8443,
    path: input.path,
    query: { ...input.query },
    headers,
    body: input.body,
  };
}

function onTheWire(signed: HttpRequest, body: string | undefined): SignedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return {
    method: signed.method,
    rawPath: signed.path,
    rawQuery: wireQuery(signed.query),
    headers,
    bodySha256: sha256Hex(body ?? ''),
  };
}

/** Signs with the Authorization header, as the AWS SDK v3 does. */
export async function signRequest(input: TestRequest, opts: SignOptions = {}): Promise<SignedRequest> {
  const signed = await signer(opts).sign(toSmithy(input, opts), {
    signingDate: opts.signingDate ?? new Date(NOW),
  });
  return onTheWire(signed, input.body);
}

/** A presigned URL from the AWS SDK v3 signer. */
export async function presignRequest(
  input: TestRequest,
  opts: SignOptions & { expiresIn?: number } = {},
): Promise<SignedRequest> {
  const signed = await signer(opts).presign(toSmithy(input, opts), {
    signingDate: opts.signingDate ?? new Date(NOW),
    expiresIn: opts.expiresIn ?? 300,
  });
  return onTheWire(signed, input.body);
}

export const MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** Asserts that verification throws an OtterError of `type` whose message is or matches `message`. */
export function fails(
  req: SignedRequest,
  type: ErrorType,
  message: string | RegExp,
  opts: SigV4Options = options(),
) {
  assert.throws(
    () => verifySigV4(req, opts),
    (error: unknown) => {
      assert.ok(error instanceof OtterError, `expected an OtterError, got ${String(error)}`);
      assert.equal(error.type, type);
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}
