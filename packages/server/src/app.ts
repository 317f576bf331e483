import { type Clock, systemClock } from '@otter/core';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ArtifactService } from './artifacts/artifact-service.js';
import { type AwsHandlers, newRequestId, registerAwsPlane } from './aws/aws-plane.js';
import type { ServerConfig } from './config.js';
import type { AccessKey } from './credentials.js';
import { installErrorHandler } from './http/error-handler.js';
import { registerArtifactsApi } from './native/artifacts-api.js';
import { registerSigningKeysApi } from './native/signing-keys-api.js';
import { getCaCertificatePem } from './services/device-ca.js';
import type { RegistryStore } from './store/registry-store.js';

export interface AppOptions {
  config: ServerConfig;
  accessKeys: AccessKey[];
  handlers: AwsHandlers;
  /** The native artifact API (`/v1/artifacts`, `/v1/presign`) is served when given. */
  artifacts?: ArtifactService;
  /** The native signing key registry (`/v1/signing-keys`) is served when given. */
  store?: RegistryStore;
  clock?: Clock;
  logger?: boolean | object;
}

/** Builds the HTTP application: health, then the AWS planes. No listening, no side effects. */
export function buildApp(opts: AppOptions): FastifyInstance {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: config.bodyLimitBytes,
    routerOptions: { maxParamLength: 1024, ignoreTrailingSlash: true },
    genReqId: newRequestId,
    requestIdHeader: false,
    // Malformed percent-encoding in the path fails before routing: answer it in the AWS error shape.
    frameworkErrors: (error, req, res) => {
      (res as FastifyReply)
        .code(400)
        .header('x-amzn-ErrorType', 'InvalidRequestException')
        .header('x-amzn-RequestId', req.id)
        .type('application/json')
        .send(JSON.stringify({ __type: 'InvalidRequestException', message: error.message }));
    },
  });
  // Bodies stay raw bytes: SigV4 hashes them and the model-driven codec parses them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  installErrorHandler(app);

  app.get('/health', async () => ({ status: 'ok' }));

  const secrets = new Map(opts.accessKeys.map((k) => [k.accessKeyId, k.secretAccessKey]));
  registerAwsPlane(app, {
    handlers: opts.handlers,
    accountId: config.accountId,
    clock: opts.clock ?? systemClock,
    maxSkewMs: config.maxSkewSeconds * 1000,
    lookupSecret: (id) => secrets.get(id),
    allowAnonymous: config.allowAnonymous,
  });
  if (opts.artifacts) {
    registerArtifactsApi(app, {
      service: opts.artifacts,
      clock: opts.clock ?? systemClock,
      maxSkewMs: config.maxSkewSeconds * 1000,
      lookupSecret: (id) => secrets.get(id),
      allowAnonymous: config.allowAnonymous,
    });
  }
  if (opts.store) {
    const store = opts.store;
    // The device CA certificate is public: devices and agents fetch it to trust the TLS listener.
    app.get('/v1/device-ca', async (_req, reply) =>
      reply.type('application/x-pem-file').send(await getCaCertificatePem(store, opts.clock ?? systemClock)),
    );
    registerSigningKeysApi(app, {
      store: opts.store,
      clock: opts.clock ?? systemClock,
      maxSkewMs: config.maxSkewSeconds * 1000,
      lookupSecret: (id) => secrets.get(id),
      allowAnonymous: config.allowAnonymous,
    });
  }
  return app;
}
