import type { TLSSocket } from 'node:tls';
import { type Clock, OtterError } from '@otter/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type AwsHandlers, type DeviceAuth, newRequestId, registerAwsPlane } from '../aws/aws-plane.js';
import type { AccessKey } from '../credentials.js';
import { installErrorHandler } from '../http/error-handler.js';
import { DeviceAuthError, identifyDevice, VerifiedCertificates } from '../services/device-identity.js';
import type { RegistryStore } from '../store/index.js';
import { authorizeDevice, deviceMayCall } from './device-access.js';
import type { ServerTls } from './server-certificate.js';

/** The settings the device listener reads (a ServerConfig has them all). */
export interface DevicePlaneConfig {
  host: string;
  /** 0 = a free port (-1/off is decided by the caller: then this is not started). */
  deviceTlsPort: number;
  accountId: string;
  maxSkewSeconds: number;
  bodyLimitBytes: number;
  allowAnonymous: boolean;
}

export interface DevicePlaneOptions {
  config: DevicePlaneConfig;
  tls: Pick<ServerTls, 'cert' | 'key'>;
  store: RegistryStore;
  /** All handlers; the listener serves only those of `iot-jobs-data` and `iotdata`. */
  handlers: AwsHandlers;
  accessKeys: AccessKey[];
  clock: Clock;
  logger?: boolean | object;
}

export interface DevicePlane {
  app: FastifyInstance;
  port: number;
  /** `https://host:port` */
  url: string;
  close(): Promise<void>;
}

const hasSignature = (req: FastifyRequest) =>
  req.headers.authorization !== undefined || (req.raw.url ?? '').includes('X-Amz-Signature=');

/**
 * Client certificates on the device listener: a request that presents one acts as the certificate's
 * thing (identifyDevice, checked on every request so a status change applies at once; the parsed and
 * CA-verified certificate is remembered by its bytes) and any SigV4
 * signature on it is ignored; a request without one must be SigV4-signed (an admin).
 */
export function deviceAuth(store: RegistryStore, clock: Clock, allowAnonymous: boolean): DeviceAuth {
  // Parsing and the CA signature check depend on the certificate's bytes only; status, validity and
  // attachments are read on every request (identifyDevice), so UpdateCertificate applies at once.
  const verified = new VerifiedCertificates();
  return {
    identify: async (req) => {
      const der = (req.raw.socket as TLSSocket).getPeerCertificate?.(false)?.raw;
      if (!der || der.length === 0) {
        if (!hasSignature(req) && !allowAnonymous)
          throw new OtterError(
            'UnauthorizedException',
            'No client certificate was presented: devices connect with their X.509 certificate, admins sign requests with SigV4',
          );
        return undefined;
      }
      try {
        return await identifyDevice(store, der, undefined, { now: clock.now(), verified });
      } catch (error) {
        if (error instanceof DeviceAuthError)
          req.log.info({ reason: error.reason, err: error.message }, 'device certificate refused');
        throw error;
      }
    },
    mayCall: deviceMayCall,
    authorize: authorizeDevice,
  };
}

/**
 * The device data plane over HTTPS: the iot-jobs-data and shadow routes of the main HTTP plane on
 * a TLS listener that asks for client certificates. The handshake accepts any certificate (or
 * none); every request is then judged by deviceAuth. No listening here.
 */
export function buildDevicePlane(opts: DevicePlaneOptions): FastifyInstance {
  const { config } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: config.bodyLimitBytes,
    routerOptions: { maxParamLength: 1024, ignoreTrailingSlash: true },
    genReqId: newRequestId,
    requestIdHeader: false,
    https: { ...opts.tls, requestCert: true, rejectUnauthorized: false },
    frameworkErrors: (error, req, res) => {
      (res as FastifyReply)
        .code(400)
        .header('x-amzn-ErrorType', 'InvalidRequestException')
        .header('x-amzn-RequestId', req.id)
        .type('application/json')
        .send(JSON.stringify({ __type: 'InvalidRequestException', message: error.message }));
    },
  }) as unknown as FastifyInstance; // an https.Server underneath; the plane code needs nothing of it
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  installErrorHandler(app);
  app.get('/health', async () => ({ status: 'ok' }));

  const secrets = new Map(opts.accessKeys.map((k) => [k.accessKeyId, k.secretAccessKey]));
  const handlers: AwsHandlers = {};
  if (opts.handlers['iot-jobs-data']) handlers['iot-jobs-data'] = opts.handlers['iot-jobs-data'];
  if (opts.handlers.iotdata) handlers.iotdata = opts.handlers.iotdata;
  registerAwsPlane(app, {
    handlers,
    accountId: config.accountId,
    clock: opts.clock,
    maxSkewMs: config.maxSkewSeconds * 1000,
    lookupSecret: (id) => secrets.get(id),
    allowAnonymous: config.allowAnonymous,
    devices: deviceAuth(opts.store, opts.clock, config.allowAnonymous),
  });
  return app;
}

/** Builds the device plane and listens on `deviceTlsPort`. */
export async function startDevicePlane(opts: DevicePlaneOptions): Promise<DevicePlane> {
  const app = buildDevicePlane(opts);
  const { host, deviceTlsPort } = opts.config;
  await app.listen({ port: deviceTlsPort, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : deviceTlsPort;
  return {
    app,
    port,
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => app.close(),
  };
}
