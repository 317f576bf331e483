/**
 * The registry of public signing keys (docs/signing.md): `/v1/signing-keys/{name}`. Only public
 * keys are accepted; a private key is refused before anything is stored.
 */
import { invalidRequest, isSigningAlgorithm, parsePublicKey, SIGNING_ALGORITHMS } from '@otter/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeToken, encodeToken } from '../handlers/paging.js';
import type { RegistryStore } from '../store/registry-store.js';
import type { SigningKeyRecord } from '../store/signing-key-store.js';
import { createAuthenticate, type NativeAuthOptions } from './auth.js';

/** The store, and how to authenticate (the server's keys, clock and skew limit, dev mode). */
export interface SigningKeysApiDeps extends NativeAuthOptions {
  store: Pick<RegistryStore, 'signingKeys'>;
}

/** Names of signing keys: the same rule as the CLI's local key names. */
export const SIGNING_KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_RESULTS = 250;

function keyName(req: FastifyRequest): string {
  const { name } = req.params as { name: string };
  if (!SIGNING_KEY_NAME.test(name)) {
    throw invalidRequest(
      `Invalid signing key name ${JSON.stringify(name.slice(0, 100))}: 1 to 64 of A-Z a-z 0-9 . _ -`,
    );
  }
  return name;
}

/** `{publicKeyPem, algorithm?}`, nothing else. */
function readPutBody(body: unknown): { publicKeyPem: unknown; algorithm?: unknown } {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidRequest('The request body must be JSON: {"publicKeyPem": "-----BEGIN PUBLIC KEY-----..."}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidRequest('The request body must be a JSON object with publicKeyPem');
  }
  const unknown = Object.keys(parsed).filter((k) => k !== 'publicKeyPem' && k !== 'algorithm');
  if (unknown.length > 0)
    throw invalidRequest(`Unknown member(s) in the request body: ${unknown.join(', ')}`);
  const { publicKeyPem, algorithm } = parsed as Record<string, unknown>;
  if (typeof publicKeyPem !== 'string') throw invalidRequest('publicKeyPem (a string, SPKI PEM) is required');
  return algorithm === undefined ? { publicKeyPem } : { publicKeyPem, algorithm };
}

const summary = (k: SigningKeyRecord) => ({
  name: k.name,
  keyId: k.keyId,
  algorithm: k.algorithm,
  createdAt: k.createdAt / 1000,
});

const send = (reply: FastifyReply, status: number, body: unknown) =>
  reply.code(status).header('x-amzn-RequestId', reply.request.id).type('application/json').send(body);

/** Registers the signing key routes; each request is SigV4-authenticated like the AWS planes. */
export function registerSigningKeysApi(app: FastifyInstance, deps: SigningKeysApiDeps): void {
  const keys = deps.store.signingKeys;
  const authenticate = createAuthenticate(deps);

  app.put('/v1/signing-keys/:name', async (req, reply) => {
    authenticate(req);
    const name = keyName(req);
    const body = readPutBody(req.body);
    const key = parsePublicKey(body.publicKeyPem);
    if (body.algorithm !== undefined && body.algorithm !== key.algorithm) {
      throw invalidRequest(
        isSigningAlgorithm(body.algorithm)
          ? `algorithm ${body.algorithm} does not match the key, which is ${key.algorithm}`
          : `algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}`,
      );
    }
    const { key: stored, created } = await keys.put({ name, ...key }, deps.clock.now());
    return send(reply, created ? 201 : 200, summary(stored));
  });

  app.get('/v1/signing-keys', async (req, reply) => {
    authenticate(req);
    const query = req.query as Record<string, string | undefined>;
    const max = query.maxResults === undefined ? 100 : Number(query.maxResults);
    if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
      throw invalidRequest(`maxResults must be an integer from 1 to ${MAX_RESULTS}`);
    }
    const page = await keys.list({ after: decodeToken(query.nextToken), limit: max });
    const nextToken = encodeToken(page.nextToken);
    return send(reply, 200, {
      signingKeys: page.items.map(summary),
      ...(nextToken === undefined ? {} : { nextToken }),
    });
  });

  app.get('/v1/signing-keys/:name', async (req, reply) => {
    authenticate(req);
    const key = await keys.describe(keyName(req));
    return send(reply, 200, { ...summary(key), publicKeyPem: key.publicKeyPem });
  });

  app.delete('/v1/signing-keys/:name', async (req, reply) => {
    authenticate(req);
    const name = keyName(req);
    if (!(await keys.delete(name))) await keys.describe(name);
    return reply.code(204).header('x-amzn-RequestId', req.id).send();
  });
}
