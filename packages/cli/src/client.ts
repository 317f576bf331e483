/**
 * How every admin command reaches the server, resolved like the AWS CLI:
 * - endpoint: `--endpoint`, else OTTER_ENDPOINT, else http://127.0.0.1:8780;
 * - region: `--region`, else AWS_REGION / AWS_DEFAULT_REGION, else the profile's, else us-east-1;
 * - credentials: the AWS SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
 *   AWS_PROFILE and ~/.aws/{credentials,config}, …).
 *
 * `iotClient()` speaks the AWS IoT API; `nativeRequest()` / `nativeJson()` speak Otter's native API
 * (`/v1/...`), signed with SigV4 for the service name `otter`. Errors from the server become a
 * CliError whose message is `<Type>: <message>` (main prints `otter: ` before it, exit code 1);
 * a server that cannot be reached becomes a CliError naming the endpoint.
 */
import type { Readable } from 'node:stream';
import { IoTClient } from '@aws-sdk/client-iot';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8780';
export const DEFAULT_REGION = 'us-east-1';
/** The SigV4 signing name of the native API. */
export const NATIVE_SERVICE = 'otter';

/** A failure to report to the user: main prints `otter: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  /** The server's error type (`x-amzn-ErrorType`), when the server answered with an error. */
  readonly type: string | undefined;
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  readonly exitCode: number;
  /** True when the server could not be reached at all (refused, unknown host, timeout). */
  readonly unreachable: boolean;

  constructor(
    message: string,
    opts: { type?: string; status?: number; exitCode?: number; unreachable?: boolean } = {},
  ) {
    super(message);
    this.name = 'CliError';
    this.type = opts.type;
    this.status = opts.status;
    this.exitCode = opts.exitCode ?? 1;
    this.unreachable = opts.unreachable ?? false;
  }
}

export interface ClientFlags {
  endpoint?: string | undefined;
  region?: string | undefined;
}

export interface NativeRequestOptions {
  /** A buffer (hashed and signed) or a stream (sent chunked; signed over `bodySha256` if given). */
  body?: Buffer | Readable | undefined;
  /** Hex SHA-256 of a streamed body; sent as `x-amz-content-sha256`. Default UNSIGNED-PAYLOAD. */
  bodySha256?: string | undefined;
  headers?: Record<string, string> | undefined;
  query?: Record<string, string | undefined> | undefined;
  /** Give up after this long (ms); default: no limit. */
  timeoutMs?: number | undefined;
}

export interface OtterClient {
  readonly endpoint: string;
  readonly region: string;
  /** An AWS SDK IoT client for this endpoint, region and credentials. */
  iotClient(): IoTClient;
  /** A signed request to the native API; resolves for 2xx/3xx, throws CliError otherwise. */
  nativeRequest(method: string, path: string, opts?: NativeRequestOptions): Promise<Response>;
  /** nativeRequest with a JSON body and a JSON answer (undefined for 204). */
  nativeJson<T>(method: string, path: string, body?: unknown, opts?: NativeRequestOptions): Promise<T>;
}

/** The endpoint from flags and environment, validated. */
export function resolveEndpoint(flags: ClientFlags, env: Record<string, string | undefined>): string {
  const endpoint = flags.endpoint ?? (env.OTTER_ENDPOINT || undefined) ?? DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new CliError(`invalid endpoint '${endpoint}': expected a URL like ${DEFAULT_ENDPOINT}`, {
      exitCode: 2,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`invalid endpoint '${endpoint}': only http and https are supported`, { exitCode: 2 });
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** The region from flags, environment, then the AWS profile; us-east-1 when none is set. */
export async function resolveRegion(
  flags: ClientFlags,
  env: Record<string, string | undefined>,
): Promise<string> {
  const fromEnv = flags.region ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined);
  if (fromEnv) return fromEnv;
  // The SDK's own region chain reads the profile in ~/.aws/config (and AWS_PROFILE).
  const probe = new IoTClient({});
  try {
    return await probe.config.region();
  } catch {
    return DEFAULT_REGION;
  } finally {
    probe.destroy();
  }
}

/** Describes a fetch/SDK failure that never reached the server. */
function unreachable(endpoint: string, error: unknown): CliError | undefined {
  const e = error as { name?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new CliError(`the Otter server at ${endpoint} did not answer in time`, { unreachable: true });
  }
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
  };
  const reason = code === undefined ? undefined : reasons[code];
  if (reason === undefined && !(error instanceof TypeError && e.cause)) return undefined;
  return new CliError(
    `cannot reach the Otter server at ${endpoint} (${reason ?? e.cause?.message ?? 'fetch failed'}); ` +
      `is it running? Set the endpoint with --endpoint or OTTER_ENDPOINT`,
    { unreachable: true },
  );
}

/** Turns any error of a client call into a CliError (server errors keep their type). */
export function toCliError(endpoint: string, error: unknown): unknown {
  if (error instanceof CliError) return error;
  const far = unreachable(endpoint, error);
  if (far) return far;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'CredentialsProviderError') {
    return new CliError(
      'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the server prints ' +
        'them on its first start) or AWS_PROFILE',
      { type: 'CredentialsProviderError' },
    );
  }
  if (e.$metadata?.httpStatusCode !== undefined && e.name) {
    return new CliError(`${e.name}: ${e.message ?? ''}`, {
      type: e.name,
      status: e.$metadata.httpStatusCode,
    });
  }
  return error;
}

async function errorFromResponse(res: Response): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let body: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status line says enough
  }
  const header = res.headers.get('x-amzn-errortype')?.split(':')[0];
  const type = header || (typeof body.__type === 'string' ? body.__type : `HTTP${res.status}`);
  const message = body.message ?? body.Message ?? (text.slice(0, 200) || res.statusText);
  return new CliError(`${type}: ${String(message)}`, { type, status: res.status });
}

/** A client for one endpoint, region and credentials chain. */
export async function createClient(
  flags: ClientFlags,
  env: Record<string, string | undefined>,
): Promise<OtterClient> {
  const endpoint = resolveEndpoint(flags, env);
  const region = await resolveRegion(flags, env);
  const credentials = fromNodeProviderChain();
  const signer = new SignatureV4({
    credentials,
    region,
    service: NATIVE_SERVICE,
    sha256: Hash.bind(null, 'sha256'),
  });

  async function nativeRequest(method: string, path: string, opts: NativeRequestOptions = {}) {
    const url = new URL(endpoint + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => {
      query[k] = v;
    });
    const streamed = opts.body !== undefined && !Buffer.isBuffer(opts.body);
    const headers: Record<string, string> = { host: url.host, ...opts.headers };
    if (streamed || opts.bodySha256) headers['x-amz-content-sha256'] = opts.bodySha256 ?? 'UNSIGNED-PAYLOAD';
    try {
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query,
        headers,
        body: streamed ? undefined : opts.body,
      });
      const { host: _host, ...sendHeaders } = signed.headers;
      const init: RequestInit & { duplex?: 'half' } = {
        method,
        headers: sendHeaders,
        ...(opts.body === undefined
          ? {}
          : { body: opts.body as unknown as NonNullable<RequestInit['body']> }),
        ...(streamed ? { duplex: 'half' } : {}),
        ...(opts.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(opts.timeoutMs) }),
      };
      const res = await fetch(url, init);
      if (res.status >= 400) throw await errorFromResponse(res);
      return res;
    } catch (error) {
      throw toCliError(endpoint, error);
    }
  }

  return {
    endpoint,
    region,
    iotClient: () => new IoTClient({ endpoint, region, credentials }),
    nativeRequest,
    async nativeJson<T>(method: string, path: string, body?: unknown, opts: NativeRequestOptions = {}) {
      const res = await nativeRequest(method, path, {
        ...opts,
        ...(body === undefined
          ? {}
          : {
              body: Buffer.from(JSON.stringify(body)),
              headers: { 'content-type': 'application/json', ...opts.headers },
            }),
      });
      if (res.status === 204) return undefined as T;
      try {
        return (await res.json()) as T;
      } catch {
        throw new CliError(`the server at ${endpoint} answered ${method} ${path} with invalid JSON`, {
          status: res.status,
        });
      }
    },
  };
}
