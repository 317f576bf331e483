/**
 * Test support for the agent's end-to-end suites (tests may use server code; the agent may not):
 * a device identity on a running server, polling, and waiting for an execution to end.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DescribeJobExecutionCommand,
  type IoTClient,
  type JobExecution,
} from '@aws-sdk/client-iot';
import { FREE_PORTS, type RunningServer, startServer } from '../../../server/src/main.js';
import { getCaCertificatePem } from '../../../server/src/services/device-ca.js';

/**
 * A real server for agent end-to-end suites in a fresh data folder under the system temp folder:
 * every listener on a free port (device TLS and MQTT over TLS included), the embedded broker or the
 * external one at `mqttUrl`. The caller closes it and removes `dataDir`.
 */
export async function startAgentTestServer(
  prefix: string,
  mqttUrl?: string,
): Promise<{ server: RunningServer; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const server = await startServer({
    env: {},
    logger: false,
    overrides: {
      ...FREE_PORTS,
      mqttTlsPort: 0,
      dataDir,
      accessKeyId: 'AKIAOTTERTEST0000001',
      secretAccessKey: 'otter-test-secret-key',
      ...(mqttUrl ? { mqttUrl } : {}),
    },
  });
  return { server, dataDir };
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Creates the thing, an ACTIVE certificate attached to it, and writes what the agent's config
 * names into `work`: `device.crt`, `device.key`, `ca.pem` (the Otter device CA) and, when a trusted
 * key is given, `release.pub.pem`.
 */
export async function provisionDevice(
  iot: IoTClient,
  server: Pick<RunningServer, 'store'>,
  thingName: string,
  work: string,
  trustedPublicKeyPem?: string,
): Promise<void> {
  await iot.send(new CreateThingCommand({ thingName }));
  const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachThingPrincipalCommand({ thingName, principal: made.certificateArn! }));
  writeFileSync(join(work, 'device.crt'), made.certificatePem!);
  writeFileSync(join(work, 'device.key'), made.keyPair!.PrivateKey!);
  writeFileSync(join(work, 'ca.pem'), await getCaCertificatePem(server.store));
  if (trustedPublicKeyPem !== undefined) writeFileSync(join(work, 'release.pub.pem'), trustedPublicKeyPem);
}

/** Polls `f` every `everyMs` until it returns a value (errors count as "not yet"); fails after `ms`. */
export async function eventually<T>(
  f: () => Promise<T | undefined> | T | undefined,
  ms: number,
  what: string,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The execution once it is SUCCEEDED, FAILED or REJECTED. */
export const finalExecution = (
  iot: IoTClient,
  jobId: string,
  thingName: string,
  ms: number,
): Promise<JobExecution> =>
  eventually(
    async () => {
      const r = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
      const st = r.execution?.status;
      return st === 'SUCCEEDED' || st === 'FAILED' || st === 'REJECTED' ? r.execution : undefined;
    },
    ms,
    `job ${jobId} to end`,
  );
