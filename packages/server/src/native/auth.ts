/**
 * SigV4 authentication for Otter's native API (`/v1/...`), the same check the AWS planes make:
 * any signing service name (clients use `otter`), the server's access keys, its clock-skew limit.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '@otter/core';
import type { FastifyRequest } from 'fastify';
import { type SigV4Identity, verifySigV4 } from '../aws/sigv4/verify-sigv4.js';

export interface NativeAuthOptions {
  clock: Clock;
  maxSkewMs: number;
  lookupSecret(accessKeyId: string): string | undefined;
  /** Dev mode only: unsigned requests pass (as `undefined`); signed ones are still verified. */
  allowAnonymous: boolean;
}

/**
 * Verifies the request's signature and returns who signed it (undefined: unsigned, dev mode).
 * Throws MissingAuthenticationTokenException / UnrecognizedClientException /
 * InvalidSignatureException. `bodySha256` is the hex SHA-256 of the body the caller will accept;
 * by default that of the buffered body (`req.body` as a Buffer, or no body). A route that streams
 * its body passes the client's declared `x-amz-content-sha256` instead and checks the bytes itself.
 */
export type Authenticate = (req: FastifyRequest, bodySha256?: string) => SigV4Identity | undefined;

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

export function createAuthenticate(opts: NativeAuthOptions): Authenticate {
  return (req, bodySha256) => {
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const signed = req.headers.authorization !== undefined || rawQuery.includes('X-Amz-Signature=');
    if (!signed && opts.allowAnonymous) return undefined;
    const body = Buffer.isBuffer(req.body) ? req.body : undefined;
    return verifySigV4(
      {
        method: req.method,
        rawPath: q < 0 ? url : url.slice(0, q),
        rawQuery,
        headers: req.raw.headersDistinct,
        bodySha256:
          bodySha256 ?? (body?.length ? createHash('sha256').update(body).digest('hex') : EMPTY_SHA256),
      },
      { lookupSecret: opts.lookupSecret, now: opts.clock.now(), maxSkewMs: opts.maxSkewMs },
    );
  };
}
