import { invalidRequest } from '@otter/core';

/** nextToken is opaque to clients: the base64url of the last key of the previous page. */
export const encodeToken = (key: string | undefined): string | undefined =>
  key === undefined ? undefined : Buffer.from(key, 'utf8').toString('base64url');

export function decodeToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(token))
    throw invalidRequest(`The nextToken '${token.slice(0, 80)}' is not valid`);
  return Buffer.from(token, 'base64url').toString('utf8');
}

/** `maxResults` as the models bound it, with a service default. */
export const pageSize = (maxResults: number | undefined, fallback = 100): number => maxResults ?? fallback;

export const seconds = (ms: number | undefined): Date | undefined =>
  ms === undefined ? undefined : new Date(ms);
