import { createHash } from 'node:crypto';
import { type Clock, OtterError } from '@otter/core';
import type { AwsHandler } from '../aws/aws-plane.js';
import type { ServiceModel } from '../aws/model.js';
import type { IdempotencyStore } from '../store/idempotency-store.js';

/** How long AWS remembers a client token. */
export const CLIENT_TOKEN_TTL_MS = 8 * 60 * 60 * 1000;
/** A claim older than this without a response belongs to a request that died; the token is free again. */
const ABANDONED_CLAIM_MS = 5 * 60 * 1000;

/** JSON with sorted keys (and Buffers as base64), so equal requests hash equally. */
function canonical(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { $base64: value.toString('base64') };
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** Responses keep their Dates across the round trip through the database. */
const encodeResponse = (response: unknown): string => JSON.stringify(canonical(response ?? {}));
const decodeResponse = (stored: unknown): Record<string, unknown> =>
  JSON.parse(JSON.stringify(stored), (_key, v: unknown) =>
    v !== null && typeof v === 'object' && '$date' in v && Object.keys(v).length === 1
      ? new Date((v as { $date: number }).$date)
      : v,
  ) as Record<string, unknown>;

/** The member of an operation's input that the model marks `idempotencyToken`, if any. */
export function idempotencyTokenMember(model: ServiceModel, operation: string): string | undefined {
  const inputShape = model.operations[operation]?.input?.shape;
  const members = (inputShape && model.shapes[inputShape]?.members) ?? {};
  return Object.entries(members).find(
    ([, ref]) => (ref as { idempotencyToken?: boolean }).idempotencyToken,
  )?.[0];
}

/**
 * The error AWS answers when a token comes back with other parameters: ConflictException where the
 * operation declares it, otherwise the operation's validation error.
 */
function mismatchError(model: ServiceModel, operation: string): OtterError {
  const declared = new Set(model.operations[operation]?.errors?.map((e) => e.shape));
  const type = declared.has('ConflictException')
    ? 'ConflictException'
    : declared.has('ValidationException')
      ? 'ValidationException'
      : 'InvalidRequestException';
  return new OtterError(type, `The client token was already used for a different ${operation} request.`);
}

/**
 * Wraps every handler whose operation declares an idempotency token: the same token with the same
 * parameters answers the first response again without running the handler; with other parameters it
 * fails; tokens expire after eight hours. Failed requests are not remembered (a retry runs again).
 */
export function withClientTokens(
  handlers: Record<string, AwsHandler>,
  model: ServiceModel,
  tokens: IdempotencyStore,
  clock: Clock,
): Record<string, AwsHandler> {
  const wrapped: Record<string, AwsHandler> = {};
  for (const [operation, handler] of Object.entries(handlers)) {
    const member = idempotencyTokenMember(model, operation);
    if (member === undefined) {
      wrapped[operation] = handler;
      continue;
    }
    const mismatch = mismatchError(model, operation);
    wrapped[operation] = async (input: Record<string, unknown>, ctx) => {
      const token = input[member];
      if (typeof token !== 'string') return handler(input, ctx);
      const { [member]: _, ...parameters } = input;
      const hash = createHash('sha256')
        .update(JSON.stringify(canonical({ parameters, region: ctx.region })))
        .digest('hex');
      const now = clock.now();
      const claim = await tokens.claim(operation, token, hash, {
        now,
        expiredBefore: now - CLIENT_TOKEN_TTL_MS,
        abandonedBefore: now - ABANDONED_CLAIM_MS,
      });
      if (claim.kind === 'replay') return decodeResponse(claim.response);
      if (claim.kind === 'mismatch') throw new OtterError(mismatch.type, mismatch.message);
      if (claim.kind === 'pending')
        throw new OtterError(mismatch.type, `A ${operation} request with this client token is in progress.`);
      let response: Record<string, unknown> | undefined;
      try {
        response = await handler(input, ctx);
      } catch (error) {
        await tokens.release(operation, token);
        throw error;
      }
      await tokens.complete(operation, token, encodeResponse(response));
      return response;
    };
  }
  return wrapped;
}
