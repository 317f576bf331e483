/**
 * End to end: a real Otter server (HTTP, device TLS listener, embedded MQTT broker with TLS, or
 * Mosquitto when OTTER_TEST_MQTT_URL is set) and a real agent process (`main.ts`), over HTTPS with
 * the device certificate and over MQTT. A published package version's artifact is downloaded,
 * verified (SHA-256 and Ed25519 signature) and placed by the `file` handler; tampered artifacts and
 * malformed documents end FAILED / REJECTED with the old file kept.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateJobCommand,
  CreatePackageCommand,
  CreatePackageVersionCommand,
  IoTClient,
  UpdatePackageVersionCommand,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { generateSigningKey, signDigest } from '@otter/core';
import type { RunningServer } from '@otter/server';
import { parseBrokerUrl } from '../../../server/src/mqtt/external-transport.js';
import { TEST_MQTT_URL } from '../../../server/src/mqtt/testing.js';
import { nativeRequest } from '../../../server/src/testing/test-server.js';
import {
  eventually,
  finalExecution as finalExecutionOf,
  provisionDevice,
  sha256,
  startAgentTestServer,
} from '../testing/device.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const MAIN = join(ROOT, 'packages/agent/src/main.ts');
const CLI = join(ROOT, 'packages/cli/bin/otter.js');
const REGION = 'eu-west-1';

interface Setup {
  server: RunningServer;
  iot: IoTClient;
  data: IoTDataPlaneClient;
  dataDir: string;
  close(): Promise<void>;
}

async function startOtter(mqttUrl?: string): Promise<Setup> {
  const { server, dataDir } = await startAgentTestServer('otter-agent-e2e-srv-', mqttUrl);
  const cfg = {
    endpoint: server.url,
    region: REGION,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
  };
  return {
    server,
    dataDir,
    iot: new IoTClient(cfg),
    data: new IoTDataPlaneClient(cfg),
    close: async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const VARIANTS = [
  { name: 'http', transport: 'http' as const, skip: false as const },
  {
    name: 'mqtt (embedded broker, TLS with the device certificate)',
    transport: 'mqtt' as const,
    skip: false as const,
  },
  {
    name: 'mqtt (Mosquitto)',
    transport: 'mqtt' as const,
    external: true,
    skip: TEST_MQTT_URL ? (false as const) : 'skipped: OTTER_TEST_MQTT_URL is not set',
  },
];

for (const variant of VARIANTS) {
  describe(`agent end to end over ${variant.name}`, { skip: variant.skip }, () => {
    let s: Setup;
    let work: string;
    let configFile: string;
    let agent: ChildProcess;
    let logs = '';
    let thingArn = '';
    let versionArn = '';
    const run = `${process.pid}-${Date.now().toString(36)}`;
    const thingName = `agent-e2e-${variant.transport}-${run}`;
    const good = Buffer.from(`firmware 1.0.0 for ${thingName}\n`.repeat(2000));
    const evil = Buffer.from(`evil firmware for ${thingName}\n`.repeat(2000));
    const key = generateSigningKey('ED25519');
    let dest = '';
    let jobCounter = 0;

    const upload = async (name: string, body: Buffer) => {
      const r = await nativeRequest(s.server, REGION, 'PUT', `/v1/artifacts/${name}`, body);
      assert.ok(r.status === 201 || r.status === 200, `upload ${name}: ${r.status} ${await r.text()}`);
    };

    const createJob = async (document: object, withPackage = true) => {
      const jobId = `job-${++jobCounter}-${run}`;
      await s.iot.send(
        new CreateJobCommand({
          jobId,
          targets: [thingArn],
          document: JSON.stringify(document),
          ...(withPackage ? { destinationPackageVersions: [versionArn] } : {}),
        }),
      );
      return jobId;
    };

    const finalExecution = (jobId: string) => finalExecutionOf(s.iot, jobId, thingName, 30_000);

    const fileDoc = (file: Record<string, unknown>) => ({
      otter: 1,
      version: '1.0.0',
      files: [file],
      steps: [{ handler: 'file', params: { dest } }],
    });
    const signature = (b: Buffer) => signDigest(key.privateKeyPem, sha256(b));

    before(async () => {
      s = await startOtter(variant.external ? TEST_MQTT_URL : undefined);
      work = mkdtempSync(join(tmpdir(), 'otter-agent-e2e-'));
      mkdirSync(join(work, 'target'));
      dest = join(work, 'target', 'app.bin');
      writeFileSync(dest, 'old firmware\n');

      await provisionDevice(s.iot, s.server, thingName, work, key.publicKeyPem);
      thingArn = `arn:aws:iot:${REGION}:${s.server.config.accountId}:thing/${thingName}`;

      // The artifact and its published package version (the publish check verifies sha256 and size).
      await upload(`fw/1.0.0/app-${run}.bin`, good);
      await upload(`fw/evil/app-${run}.bin`, evil);
      const pkg = `fw-${variant.transport}-${run}`.slice(0, 120);
      await s.iot.send(new CreatePackageCommand({ packageName: pkg }));
      const v = await s.iot.send(
        new CreatePackageVersionCommand({
          packageName: pkg,
          versionName: '1.0.0',
          attributes: { sha256: sha256(good), size: String(good.length) },
          artifact: { s3Location: { bucket: 'otter', key: `fw/1.0.0/app-${run}.bin` } },
        }),
      );
      versionArn = v.packageVersionArn!;
      await s.iot.send(
        new UpdatePackageVersionCommand({ packageName: pkg, versionName: '1.0.0', action: 'PUBLISH' }),
      );

      let mqttUrl: string | undefined;
      if (variant.transport === 'mqtt')
        mqttUrl = variant.external
          ? parseBrokerUrl(TEST_MQTT_URL!).url
          : `mqtts://127.0.0.1:${s.server.mqtt.ports.tls}`;
      configFile = join(work, 'agent.json5');
      writeFileSync(
        configFile,
        `// written by agent.e2e.test.ts
{
  thingName: ${JSON.stringify(thingName)},
  endpoint: ${JSON.stringify(s.server.deviceUrl)},
  certificateFile: 'device.crt', keyFile: 'device.key', caFile: 'ca.pem',
  transport: '${variant.transport}',
  ${mqttUrl ? `mqttUrl: ${JSON.stringify(mqttUrl)},` : ''}
  version: '0.9.0',
  // MQTT learns of jobs by notify-next: its period is long on purpose.
  update: { period: ${variant.transport === 'http' ? "'1s'" : "'1hr'"} },
  stateDir: 'state',
  trustedKeys: ['release.pub.pem'],
  logLevel: 'debug',
}
`,
      );
      agent = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          MAIN,
          '--config',
          configFile,
          '--allow-root',
          join(work, 'target'),
          '--package',
          pkg,
          '--progress-interval',
          '0',
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      agent.stdout?.on('data', (c: Buffer) => {
        logs += c.toString();
      });
      agent.stderr?.on('data', (c: Buffer) => {
        logs += c.toString();
      });
      await eventually(
        async () => (logs.includes('"agent started"') ? true : undefined),
        20_000,
        'the agent to start',
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${logs}`);
      });
    });

    after(async () => {
      if (agent && agent.exitCode === null) agent.kill('SIGKILL');
      await s?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test('a signed artifact is downloaded, verified and placed; SUCCEEDED and $package reported', async () => {
      const jobId = await createJob(
        fileDoc({
          name: 'app.bin',
          url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/fw/1.0.0/app-${run}.bin}`,
          sha256: `\${aws:iot:package:${versionArn.split('/')[1]}:version:1.0.0:attributes:sha256}`,
          size: good.length,
          signature: signature(good).signature,
          signatureAlgorithm: 'ED25519',
          signingKeyId: key.keyId,
        }),
      );
      const execution = await finalExecution(jobId).catch((e: Error) => {
        throw new Error(`${e.message}\n${logs}`);
      });
      assert.equal(execution.status, 'SUCCEEDED', JSON.stringify(execution.statusDetails) + logs);
      assert.deepEqual(readFileSync(dest), good);
      assert.deepEqual(readFileSync(`${dest}.otter-prev`, 'utf8'), 'old firmware\n');
      const pkg = versionArn.split('/')[1]!;
      const shadow = await eventually(
        async () => {
          const r = await s.data.send(new GetThingShadowCommand({ thingName, shadowName: '$package' }));
          const doc = JSON.parse(Buffer.from(r.payload!).toString('utf8')) as {
            state: { reported?: Record<string, { version: string }> };
          };
          return doc.state.reported?.[pkg];
        },
        10_000,
        '$package shadow',
      );
      assert.deepEqual(shadow, { version: '1.0.0' });
      // Progress went out as statusDetails {step, progress} and the logs are JSON lines.
      assert.match(logs, /"msg":"downloaded and verified"/);
      for (const line of logs.split('\n').filter((l) => l.startsWith('{'))) JSON.parse(line);

      const status = spawnSync(process.execPath, [CLI, 'agent', 'status', '--config', configFile, '--json'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(status.status, 0, status.stderr);
      const st = JSON.parse(status.stdout) as {
        running?: { pid: number };
        lastResult?: { jobId: string; status: string };
        job?: unknown;
      };
      assert.equal(st.running?.pid, agent.pid);
      assert.equal(st.lastResult?.jobId, jobId);
      assert.equal(st.lastResult?.status, 'SUCCEEDED');
      assert.equal(st.job, undefined);
    });

    test('a tampered artifact (hash) ends FAILED with HASH_MISMATCH; the placed file is kept', async () => {
      const jobId = await createJob(
        fileDoc({
          name: 'app.bin',
          url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/fw/evil/app-${run}.bin}`,
          sha256: sha256(good),
          signature: signature(good).signature,
          signatureAlgorithm: 'ED25519',
          signingKeyId: key.keyId,
        }),
        false,
      );
      const execution = await finalExecution(jobId);
      assert.equal(execution.status, 'FAILED');
      assert.equal(
        execution.statusDetails?.detailsMap?.reasonCode,
        'HASH_MISMATCH',
        JSON.stringify(execution.statusDetails),
      );
      assert.deepEqual(readFileSync(dest), good);
    });

    test('a tampered artifact with a matching hash but a foreign signature ends FAILED with SIGNATURE_INVALID', async () => {
      const jobId = await createJob(
        fileDoc({
          name: 'app.bin',
          url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/fw/evil/app-${run}.bin}`,
          sha256: sha256(evil),
          signature: signature(good).signature,
          signatureAlgorithm: 'ED25519',
          signingKeyId: key.keyId,
        }),
        false,
      );
      const execution = await finalExecution(jobId);
      assert.equal(execution.status, 'FAILED');
      assert.equal(
        execution.statusDetails?.detailsMap?.reasonCode,
        'SIGNATURE_INVALID',
        JSON.stringify(execution.statusDetails),
      );
      assert.deepEqual(readFileSync(dest), good);
    });

    test('a malformed document ends REJECTED with its reason code and changes nothing', async () => {
      const jobId = await createJob({ otter: 1, steps: [], surprise: true }, false);
      const execution = await finalExecution(jobId);
      assert.equal(execution.status, 'REJECTED');
      assert.equal(
        execution.statusDetails?.detailsMap?.reasonCode,
        'DOCUMENT_INVALID',
        JSON.stringify(execution.statusDetails),
      );
      assert.deepEqual(readFileSync(dest), good);
    });

    test('SIGTERM stops the agent cleanly and releases the lock', async () => {
      const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
      agent.kill('SIGTERM');
      assert.equal(await exited, 0, logs);
      assert.match(logs, /"msg":"agent stopped"/);
      const status = spawnSync(process.execPath, [CLI, 'agent', 'status', '--config', configFile], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(status.status, 0, status.stderr);
      assert.match(status.stdout, /agent: +not running/);
      assert.match(status.stdout, /last result: job-4-.* REJECTED \(DOCUMENT_INVALID\)/);
    });
  });
}
