import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { type Clock, invalidRequest, OtterError } from '@otter/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeArtifactName, validateArtifactName } from '../artifacts/artifact-name.js';
import type { ArtifactService } from '../artifacts/artifact-service.js';
import { SHA256_HEX } from '../artifacts/blob-store.js';
import { PRESIGN_EXPIRES_PARAM, PRESIGN_SIGNATURE_PARAM } from '../artifacts/presign.js';
import { UNSIGNED_PAYLOAD, verifySigV4 } from '../aws/sigv4/verify-sigv4.js';
import { decodeToken, encodeToken } from '../handlers/paging.js';
import type { ArtifactRecord } from '../store/artifact-store.js';
import { ifMatchPasses, ifNoneMatchPasses, ifRangePasses, parseRange } from './http-range.js';
import { sendFileRange } from './send-file.js';

export interface ArtifactsApiOptions {
  service: ArtifactService;
  clock: Clock;
  maxSkewMs: number;
  lookupSecret(accessKeyId: string): string | undefined;
  /** Dev mode only: accept unsigned requests, as the AWS planes do. */
  allowAnonymous: boolean;
}

const PREFIX = '/v1/artifacts/';
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const MAX_JSON_BODY = 64 * 1024;
const MAX_LIST_RESULTS = 1000;

/**
 * The native artifact API (docs/native-api.md, docs/openapi/native-api.yaml), as an encapsulated
 * plugin whose content-type parser leaves request bodies unread: uploads stream from the socket to
 * the blob store, limited by `maxArtifactBytes` rather than `bodyLimit`.
 */
export function registerArtifactsApi(app: FastifyInstance, opts: ArtifactsApiOptions): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    const bodyLimit = Number.MAX_SAFE_INTEGER;
    scope.put('/v1/artifacts/*', { bodyLimit }, (req, reply) => putArtifact(req, reply, opts));
    scope.route({
      method: ['GET', 'HEAD'],
      url: '/v1/artifacts/*',
      exposeHeadRoute: false,
      handler: (req, reply) => getArtifact(req, reply, opts),
    });
    scope.delete('/v1/artifacts/*', async (req, reply) => {
      const { rawPath } = splitUrl(req);
      const name = decodeArtifactName(rawPath.slice(PREFIX.length));
      authenticate(req, EMPTY_SHA256, opts);
      await opts.service.delete(name);
      return reply.code(204).header('x-amzn-RequestId', req.id).send();
    });
    scope.get('/v1/artifacts', (req, reply) => listArtifacts(req, reply, opts));
    scope.post('/v1/presign', { bodyLimit }, (req, reply) => presign(req, reply, opts));
  });
}

function splitUrl(req: FastifyRequest): { rawPath: string; rawQuery: string } {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

/** SigV4 (any signing service name) unless anonymous access is allowed and the request is unsigned. */
function authenticate(req: FastifyRequest, bodySha256: string, opts: ArtifactsApiOptions): void {
  const { rawPath, rawQuery } = splitUrl(req);
  const signed = req.headers.authorization !== undefined || rawQuery.includes('X-Amz-Signature=');
  if (!signed && opts.allowAnonymous) return;
  verifySigV4(
    { method: req.method, rawPath, rawQuery, headers: req.raw.headersDistinct, bodySha256 },
    { lookupSecret: opts.lookupSecret, now: opts.clock.now(), maxSkewMs: opts.maxSkewMs },
  );
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

const etagOf = (a: ArtifactRecord) => `"${a.sha256}"`;

export const artifactJson = (a: ArtifactRecord) => ({
  name: a.name,
  sha256: a.sha256,
  size: a.size,
  contentType: a.contentType,
  createdAt: a.createdAt / 1000,
  etag: etagOf(a),
});

function sendJson(req: FastifyRequest, reply: FastifyReply, status: number, body: unknown) {
  return reply
    .code(status)
    .header('x-amzn-RequestId', req.id)
    .type('application/json')
    .send(JSON.stringify(body));
}

function readSha256Header(req: FastifyRequest, name: string): string | undefined {
  const value = header(req, name);
  if (value === undefined) return undefined;
  const sha = value.trim().toLowerCase();
  if (!SHA256_HEX.test(sha)) throw invalidRequest(`${name} must be the hex SHA-256 of the body`);
  return sha;
}

async function putArtifact(req: FastifyRequest, reply: FastifyReply, opts: ArtifactsApiOptions) {
  const { rawPath } = splitUrl(req);
  const raw = req.raw;
  // Whatever happens before the body is read, do not read it: close the connection after replying.
  reply.header('connection', 'close');
  const declared = header(req, 'x-amz-content-sha256');
  if (req.headers.authorization !== undefined && declared === undefined) {
    throw invalidRequest(
      'Signed uploads must declare x-amz-content-sha256: the hex SHA-256 of the file, or UNSIGNED-PAYLOAD',
    );
  }
  if (declared?.startsWith('STREAMING-')) throw invalidRequest(`${declared} (aws-chunked) is not supported`);
  const name = decodeArtifactName(rawPath.slice(PREFIX.length));
  authenticate(req, declared ?? UNSIGNED_PAYLOAD, opts);
  const signedSha =
    declared === undefined || declared === UNSIGNED_PAYLOAD ? undefined : declared.toLowerCase();
  if (signedSha !== undefined && !SHA256_HEX.test(signedSha)) {
    throw invalidRequest('x-amz-content-sha256 must be the hex SHA-256 of the body or UNSIGNED-PAYLOAD');
  }
  const otterSha = readSha256Header(req, 'x-otter-sha256');
  if (signedSha !== undefined && otterSha !== undefined && signedSha !== otterSha) {
    throw invalidRequest('x-amz-content-sha256 and x-otter-sha256 declare different content');
  }
  const lengthHeader = header(req, 'content-length');
  const length = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (length !== undefined && length > opts.service.maxBytes) {
    throw new OtterError(
      'RequestEntityTooLargeException',
      `The artifact exceeds the maximum size of ${opts.service.maxBytes} bytes`,
    );
  }
  const contentType = header(req, 'content-type');
  reply.removeHeader('connection');

  // The blob store destroys the stream it is given on failure; destroying the request itself would
  // kill the socket before the error response is sent, hence the PassThrough in between.
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const onClose = () => {
    if (!raw.complete)
      body.destroy(new OtterError('IncompleteBodyException', 'The request body was cut short'));
  };
  raw.on('error', (e) => body.destroy(e));
  raw.on('close', onClose);
  raw.pipe(body);
  try {
    const { artifact, created } = await opts.service.upload(name, body, {
      contentType: contentType === undefined || contentType === '' ? undefined : contentType,
      expectedSha256: signedSha ?? otterSha,
      expectedSize: length,
    });
    reply.header('etag', etagOf(artifact)).header('location', `${PREFIX}${artifact.name}`);
    return sendJson(req, reply.header('x-otter-bucket', opts.service.bucket), created ? 201 : 200, {
      ...artifactJson(artifact),
      bucket: opts.service.bucket,
    });
  } catch (e) {
    if (!raw.complete) {
      raw.unpipe(body);
      reply.header('connection', 'close');
    }
    if (isAbort(e)) throw new OtterError('IncompleteBodyException', 'The request body was cut short');
    throw e;
  } finally {
    raw.off('close', onClose);
  }
}

const isAbort = (e: unknown) =>
  typeof e === 'object' &&
  e !== null &&
  'code' in e &&
  (e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE');

async function getArtifact(req: FastifyRequest, reply: FastifyReply, opts: ArtifactsApiOptions) {
  const { rawPath, rawQuery } = splitUrl(req);
  const name = decodeArtifactName(rawPath.slice(PREFIX.length));
  const query = new URLSearchParams(rawQuery);
  const signature = query.get(PRESIGN_SIGNATURE_PARAM);
  const expires = query.get(PRESIGN_EXPIRES_PARAM);
  let artifact: ArtifactRecord;
  if (signature !== null || expires !== null) {
    artifact = await opts.service.verifyPresigned(name, expires ?? '', signature ?? '');
  } else {
    authenticate(req, EMPTY_SHA256, opts);
    artifact = await opts.service.get(name);
  }
  const etag = etagOf(artifact);
  const lastModified = Math.floor(artifact.createdAt / 1000) * 1000;
  reply
    .header('x-amzn-RequestId', req.id)
    .header('etag', etag)
    .header('last-modified', new Date(lastModified).toUTCString())
    .header('accept-ranges', 'bytes')
    .header('x-otter-sha256', artifact.sha256)
    .header('x-otter-bucket', opts.service.bucket);
  if (!ifMatchPasses(header(req, 'if-match'), etag)) {
    throw new OtterError('PreconditionFailedException', 'If-Match does not match the artifact');
  }
  const ifNoneMatch = header(req, 'if-none-match');
  const ifModifiedSince = header(req, 'if-modified-since');
  const notModified =
    ifNoneMatch !== undefined
      ? !ifNoneMatchPasses(ifNoneMatch, etag)
      : ifModifiedSince !== undefined && Date.parse(ifModifiedSince) >= lastModified;
  if (notModified) return reply.code(304).send();

  const range = ifRangePasses(header(req, 'if-range'), etag, lastModified)
    ? parseRange(header(req, 'range'), artifact.size)
    : ({ kind: 'full' } as const);
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${artifact.size}`);
    throw new OtterError(
      'RangeNotSatisfiableException',
      `The range ${header(req, 'range')} is outside the artifact's ${artifact.size} bytes`,
    );
  }
  reply.header('content-type', artifact.contentType);
  if (range.kind === 'partial') {
    reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${artifact.size}`)
      .header('content-length', String(range.end - range.start + 1));
  } else {
    reply.code(200).header('content-length', String(artifact.size));
  }
  if (req.method === 'HEAD') return reply.send();
  const first = range.kind === 'partial' ? range.start : 0;
  const last = range.kind === 'partial' ? range.end : artifact.size - 1;
  const file = await opts.service.openLocal(artifact);
  if (file !== undefined) {
    // Local blob: pooled buffers straight from the file to the socket (see send-file.ts).
    reply.hijack();
    reply.raw.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
    if (last < first) {
      file.release();
      reply.raw.end();
      return;
    }
    sendFileRange(reply.raw, file, first, last).catch((e: unknown) => {
      req.log.error({ err: e }, 'artifact read failed');
    });
    return;
  }
  const stream = await opts.service.read(
    artifact,
    range.kind === 'partial' ? { start: range.start, end: range.end } : undefined,
  );
  // Straight to the socket: no Fastify payload handling per chunk.
  reply.hijack();
  const res = reply.raw;
  res.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
  stream.on('error', (e) => {
    req.log.error({ err: e }, 'artifact read failed');
    res.destroy(e);
  });
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

async function listArtifacts(req: FastifyRequest, reply: FastifyReply, opts: ArtifactsApiOptions) {
  authenticate(req, EMPTY_SHA256, opts);
  const query = new URLSearchParams(splitUrl(req).rawQuery);
  const prefix = query.get('prefix') ?? undefined;
  if (prefix !== undefined && prefix.length > 1024)
    throw invalidRequest('prefix is longer than 1024 characters');
  const maxResultsText = query.get('maxResults');
  let limit = 100;
  if (maxResultsText !== null) {
    limit = /^\d{1,4}$/.test(maxResultsText) ? Number(maxResultsText) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_LIST_RESULTS)) {
      throw invalidRequest(`maxResults must be an integer from 1 to ${MAX_LIST_RESULTS}`);
    }
  }
  const page = await opts.service.list(prefix, decodeToken(query.get('nextToken') ?? undefined), limit);
  const nextToken = encodeToken(page.nextToken);
  return sendJson(req, reply, 200, {
    artifacts: page.items.map(artifactJson),
    ...(nextToken === undefined ? {} : { nextToken }),
  });
}

async function presign(req: FastifyRequest, reply: FastifyReply, opts: ArtifactsApiOptions) {
  const body = await readSmallBody(req.raw, MAX_JSON_BODY);
  authenticate(req, createHash('sha256').update(body).digest('hex'), opts);
  let input: unknown;
  try {
    input = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidRequest('The request body must be a JSON object');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidRequest('The request body must be a JSON object');
  }
  const { name, expiresInSec } = input as Record<string, unknown>;
  if (typeof name !== 'string') throw invalidRequest('name must be a string');
  validateArtifactName(name);
  if (expiresInSec !== undefined && typeof expiresInSec !== 'number') {
    throw invalidRequest('expiresInSec must be an integer');
  }
  const result = await opts.service.presignArtifactUrl(name, expiresInSec);
  return sendJson(req, reply, 200, result);
}

/** Reads a small request body, refusing (413) more than `limit` bytes. */
async function readSmallBody(raw: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new OtterError('RequestEntityTooLargeException', `The request body exceeds ${limit} bytes`);
  if (Number(raw.headers['content-length'] ?? 0) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
