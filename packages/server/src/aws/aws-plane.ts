import { randomUUID } from 'node:crypto';
import { type Clock, OtterError } from '@otter/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeInput, encodeOutput } from './codec.js';
import { type AwsService, loadServiceModel, type Operation, type ServiceModel } from './model.js';
import { sha256Hex, verifySigV4 } from './sigv4/verify-sigv4.js';

/** What a handler knows about the request besides its decoded input. */
export interface AwsContext {
  service: AwsService;
  region: string;
  accountId: string;
  requestId: string;
  /** An ARN in this account and the request's region, e.g. arn('thing/foo'). */
  arn(resource: string): string;
  /** Set when a device's client certificate made the request (device TLS listener): act as this thing. */
  device?: { thingName: string };
}

/**
 * Requests made with a client certificate (the device TLS listener, device-plane/). Such requests
 * are judged by the certificate alone: any SigV4 signature on them is ignored.
 */
export interface DeviceAuth {
  /** The device behind the request; undefined when it has none (SigV4 as usual). Throws to refuse. */
  identify(req: FastifyRequest): Promise<{ thingName: string } | undefined>;
  /** Whether devices may call this operation at all: picks the operation among a route's candidates. */
  mayCall(service: AwsService, operation: string): boolean;
  /** Throws unless the device may run the operation with these (percent-decoded) path labels. */
  authorize(
    device: { thingName: string },
    service: AwsService,
    operation: string,
    labels: Record<string, string>,
  ): void;
}

// biome-ignore lint/suspicious/noExplicitAny: inputs are validated against the model before handlers see them
export type AwsHandler = (input: any, ctx: AwsContext) => Promise<Record<string, unknown> | undefined>;
export type AwsHandlers = Partial<Record<AwsService, Record<string, AwsHandler>>>;

export interface AwsPlaneOptions {
  handlers: AwsHandlers;
  accountId: string;
  clock: Clock;
  maxSkewMs: number;
  lookupSecret(accessKeyId: string): string | undefined;
  /** Dev mode only: accept unsigned requests (service taken from the only candidate, region us-east-1). */
  allowAnonymous: boolean;
  /** Client-certificate callers; absent: SigV4 only. */
  devices?: DeviceAuth;
}

interface Candidate {
  service: AwsService;
  name: string;
  model: ServiceModel;
  op: Operation;
  handler: AwsHandler;
  labels: string[];
}

const EMPTY_SHA256 = sha256Hex('');

/** Turns `/things/{thingName}` into a Fastify path with positional params, remembering the label names. */
function routeOf(requestUri: string): { path: string; labels: string[] } {
  const labels: string[] = [];
  const path = requestUri.split('?')[0]!.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (name.endsWith('+')) {
      labels.push(name.slice(0, -1));
      return '*';
    }
    labels.push(name);
    return `:p${labels.length - 1}`;
  });
  return { path, labels };
}

/**
 * Registers every operation that has a handler as a Fastify route. Operations of different services
 * that share a method and path share one route and are told apart by the SigV4 signing name.
 */
export function registerAwsPlane(app: FastifyInstance, opts: AwsPlaneOptions): void {
  const routes = new Map<string, { method: string; path: string; candidates: Candidate[] }>();
  for (const [service, handlers] of Object.entries(opts.handlers) as [
    AwsService,
    Record<string, AwsHandler>,
  ][]) {
    const model = loadServiceModel(service);
    for (const [name, handler] of Object.entries(handlers)) {
      const op = model.operations[name];
      if (!op) throw new Error(`${service} has no operation ${name}`);
      const { path, labels } = routeOf(op.http.requestUri);
      const key = `${op.http.method} ${path}`;
      const route = routes.get(key) ?? { method: op.http.method, path, candidates: [] };
      route.candidates.push({ service, name, model, op, handler, labels });
      routes.set(key, route);
    }
  }
  for (const { method, path, candidates } of routes.values()) {
    app.route({
      method: method as 'GET',
      url: path,
      handler: (req, reply) => dispatch(req, reply, candidates, opts),
    });
  }
}

async function dispatch(
  req: FastifyRequest,
  reply: FastifyReply,
  candidates: Candidate[],
  opts: AwsPlaneOptions,
) {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  let service: AwsService | undefined;
  let region = 'us-east-1';
  const device = await opts.devices?.identify(req);
  const hasAuth = req.headers.authorization !== undefined || rawQuery.includes('X-Amz-Signature=');
  if (device) {
    // No signing service to go by: the operation is the one of this route devices may call.
    const allowed = candidates.filter((c) => opts.devices?.mayCall(c.service, c.name));
    if (allowed.length !== 1)
      throw new OtterError(
        'ForbiddenException',
        `A device certificate may not call ${req.method} ${rawPath}; only its own jobs and shadows`,
      );
    service = allowed[0]!.service;
  } else if (hasAuth || !opts.allowAnonymous) {
    const identity = verifySigV4(
      {
        method: req.method,
        rawPath,
        rawQuery,
        headers: req.raw.headersDistinct,
        bodySha256: body.length ? sha256Hex(body) : EMPTY_SHA256,
      },
      { lookupSecret: opts.lookupSecret, now: opts.clock.now(), maxSkewMs: opts.maxSkewMs },
    );
    service = identity.service as AwsService;
    region = identity.region;
  }
  const candidate = service
    ? candidates.find((c) => c.service === service)
    : candidates.length === 1
      ? candidates[0]
      : undefined;
  if (!candidate) {
    throw new OtterError(
      'UnknownOperationException',
      `No operation of service '${service ?? '(unsigned)'}' is served at ${req.method} ${rawPath}`,
    );
  }
  const params = req.params as Record<string, string>;
  const labels: Record<string, string> = {};
  candidate.labels.forEach((name, i) => {
    const v = i === candidate.labels.length - 1 && params['*'] !== undefined ? params['*'] : params[`p${i}`];
    if (v !== undefined) labels[name] = v;
  });
  // Before decoding: a device learns nothing about other things' requests, not even validation errors.
  if (device) opts.devices?.authorize(device, candidate.service, candidate.name, labels);
  const input = decodeInput(candidate.model, candidate.op, {
    labels,
    query: new URLSearchParams(rawQuery),
    headers: req.headers,
    body,
  });
  const requestId = req.id;
  const ctx: AwsContext = {
    service: candidate.service,
    region,
    accountId: opts.accountId,
    requestId,
    arn: (resource) => `arn:aws:iot:${region}:${opts.accountId}:${resource}`,
    ...(device ? { device: { thingName: device.thingName } } : {}),
  };
  const result = await candidate.handler(input, ctx);
  const out = encodeOutput(candidate.model, candidate.op, result);
  reply.code(out.status).headers(out.headers).header('x-amzn-RequestId', requestId).type(out.contentType);
  return reply.send(out.body);
}

export const newRequestId = () => randomUUID();
