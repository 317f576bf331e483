/**
 * End to end self-update: a real Otter server, a real agent process started the way systemd starts
 * it (`<installRoot>/current/bin/otter-agent --config FILE`, started again whenever it exits with
 * AGENT_RESTART_EXIT_CODE: the test plays systemd's Restart=always). Release tarballs of the agent
 * (a tiny `bin/otter-agent` script that runs this tree's agent) are published as package versions;
 * a job with the `agent` handler switches `current`, the agent restarts into the new release, which
 * confirms itself healthy and reports SUCCEEDED (and the `$package` shadow). A release whose health
 * check fails after the restart is rolled back: FAILED, the old release current and running again.
 * The update case runs over each transport (HTTPS; MQTT on the embedded broker; MQTT through
 * Mosquitto when OTTER_TEST_MQTT_URL is set), the rollback cases over HTTPS only.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
import { readAgentStatus } from '../status/status.js';
import {
  eventually,
  finalExecution as finalExecutionOf,
  provisionDevice,
  sha256,
  startAgentTestServer,
} from '../testing/device.js';
import { AGENT_RESTART_EXIT_CODE } from './agent.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const MAIN = join(ROOT, 'packages/agent/src/main.ts');
const REGION = 'eu-west-1';

/**
 * A release's `bin/otter-agent`: says which release starts, then runs this tree's agent. With
 * `failAfterRestart`, its second `--health` (the one after the restart) fails.
 */
function agentScript(version: string, failAfterRestart = false, crash = false): string {
  if (crash)
    return `#!/bin/sh
if [ "$1" != "--health" ]; then echo "release ${version} crashes at start" >&2; exit 1; fi
cd ${JSON.stringify(ROOT)} && exec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(MAIN)} "$@"
`;
  const failing = failAfterRestart
    ? `if [ "$1" = "--health" ]; then
  count_file="$(dirname "$0")/../health-count"
  n=$(cat "$count_file" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$count_file"
  if [ $n -ge 2 ]; then echo "release ${version}: unhealthy after the restart" >&2; exit 1; fi
fi
`
    : '';
  return `#!/bin/sh
${failing}echo "release ${version} starting: $*" >&2
cd ${JSON.stringify(ROOT)} && exec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(MAIN)} "$@"
`;
}

/**
 * The transports the suite runs over, as agent.e2e.test.ts: HTTPS with the device certificate, MQTT
 * on the embedded broker's TLS listener (the device certificate), MQTT through Mosquitto when
 * OTTER_TEST_MQTT_URL is set. The rollback cases (which do not depend on the transport) run over
 * HTTP only, to keep the suite's time down.
 */
const VARIANTS = [
  { key: 'http', name: 'HTTP', transport: 'http' as const, skip: false as const },
  {
    key: 'mqtt',
    name: 'MQTT (embedded broker, TLS with the device certificate)',
    transport: 'mqtt' as const,
    skip: false as const,
  },
  {
    key: 'mosquitto',
    name: 'MQTT (Mosquitto)',
    transport: 'mqtt' as const,
    external: true,
    skip: TEST_MQTT_URL ? (false as const) : 'skipped: OTTER_TEST_MQTT_URL is not set',
  },
];

for (const variant of VARIANTS) {
  describe(`agent self-update end to end over ${variant.name}`, { skip: variant.skip }, () => {
    let server: RunningServer;
    let iot: IoTClient;
    let data: IoTDataPlaneClient;
    let dataDir = '';
    let work = '';
    let installRoot = '';
    let configFile = '';
    let thingArn = '';
    let logs = '';
    /** The release `current` pointed to at each (re)start of the agent. */
    const starts: string[] = [];
    let child: ChildProcess | undefined;
    let supervising = true;
    const run = `${process.pid}-${Date.now().toString(36)}`;
    const thingName = `agent-self-update-${variant.key}-${run}`;
    const pkg = `otter-agent-${variant.key}-${run}`;
    const key = generateSigningKey('ED25519');
    const versionArns: Record<string, string> = {};
    const tarballs: Record<string, Buffer> = {};

    /**
     * systemd, Restart=always: starts the agent again after the restart code or a crash, through
     * `<installRoot>/launcher` once the agent has written it (as the unit's ExecStart does).
     */
    function startAgent(): void {
      starts.push(readlinkSync(join(installRoot, 'current')));
      const launcher = join(installRoot, 'launcher');
      const p = spawn(
        existsSync(launcher) ? launcher : join(installRoot, 'current', 'bin', 'otter-agent'),
        ['--config', configFile, '--progress-interval', '0'],
        { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = p;
      p.stdout?.on('data', (c: Buffer) => {
        logs += c.toString();
      });
      p.stderr?.on('data', (c: Buffer) => {
        logs += c.toString();
      });
      p.on('exit', (code) => {
        logs += `[systemd] exited ${code}\n`;
        if (supervising && code !== 0 && code !== null) startAgent();
      });
    }

    async function publish(version: string, failAfterRestart = false, crash = false): Promise<void> {
      const src = join(work, `src-${version}`);
      mkdirSync(join(src, 'bin'), { recursive: true });
      writeFileSync(join(src, 'bin', 'otter-agent'), agentScript(version, failAfterRestart, crash));
      chmodSync(join(src, 'bin', 'otter-agent'), 0o755);
      const file = join(work, `otter-agent-${version}.tgz`);
      execFileSync('tar', ['-czf', file, '-C', src, '.']);
      const body = readFileSync(file);
      tarballs[version] = body;
      const artifactKey = `otter-agent/${version}/otter-agent-${run}.tgz`;
      const r = await nativeRequest(server, REGION, 'PUT', `/v1/artifacts/${artifactKey}`, body);
      assert.ok(r.status === 200 || r.status === 201, `upload: ${r.status} ${await r.text()}`);
      const v = await iot.send(
        new CreatePackageVersionCommand({
          packageName: pkg,
          versionName: version,
          attributes: { sha256: sha256(body), size: String(body.length) },
          artifact: { s3Location: { bucket: 'otter', key: artifactKey } },
        }),
      );
      versionArns[version] = v.packageVersionArn!;
      await iot.send(
        new UpdatePackageVersionCommand({ packageName: pkg, versionName: version, action: 'PUBLISH' }),
      );
    }

    async function updateJob(version: string): Promise<string> {
      const body = tarballs[version]!;
      const jobId = `self-update-${version.replace(/\./g, '-')}-${run}`;
      const document = {
        otter: 1,
        version,
        files: [
          {
            name: 'otter-agent.tgz',
            url: `\${aws:iot:s3-presigned-url:${server.url}/v1/artifacts/otter-agent/${version}/otter-agent-${run}.tgz}`,
            sha256: `\${aws:iot:package:${pkg}:version:${version}:attributes:sha256}`,
            size: body.length,
            signature: signDigest(key.privateKeyPem, sha256(body)).signature,
            signatureAlgorithm: 'ED25519',
            signingKeyId: key.keyId,
          },
        ],
        steps: [{ handler: 'agent' }],
      };
      await iot.send(
        new CreateJobCommand({
          jobId,
          targets: [thingArn],
          document: JSON.stringify(document),
          destinationPackageVersions: [versionArns[version]!],
        }),
      );
      return jobId;
    }

    const finalExecution = (jobId: string) =>
      finalExecutionOf(iot, jobId, thingName, 90_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${logs}`);
      });

    /** Waits until the agent running now started from `release` and is polling. */
    const runningFrom = (release: string, startsBefore: number) =>
      eventually(
        async () =>
          starts.length > startsBefore &&
          starts.at(-1) === release &&
          logs.split('"agent started"').length - 1 >= starts.length
            ? true
            : undefined,
        60_000,
        `the agent to run from ${release}`,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nstarts: ${starts.join(', ')}\n${logs}`);
      });

    before(async () => {
      ({ server, dataDir } = await startAgentTestServer(
        'otter-self-update-srv-',
        variant.external ? TEST_MQTT_URL : undefined,
      ));
      const cfg = {
        endpoint: server.url,
        region: REGION,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
        maxAttempts: 1,
      };
      iot = new IoTClient(cfg);
      data = new IoTDataPlaneClient(cfg);
      work = mkdtempSync(join(tmpdir(), 'otter-self-update-'));

      await provisionDevice(iot, server, thingName, work, key.publicKeyPem);
      thingArn = `arn:aws:iot:${REGION}:${server.config.accountId}:thing/${thingName}`;

      // Release 1.0.0 installed the way the handler lays releases out.
      installRoot = join(work, 'opt');
      mkdirSync(join(installRoot, 'releases', '1.0.0', 'bin'), { recursive: true });
      writeFileSync(join(installRoot, 'releases', '1.0.0', 'bin', 'otter-agent'), agentScript('1.0.0'));
      chmodSync(join(installRoot, 'releases', '1.0.0', 'bin', 'otter-agent'), 0o755);
      symlinkSync(join('releases', '1.0.0'), join(installRoot, 'current'));

      await iot.send(new CreatePackageCommand({ packageName: pkg }));
      await publish('2.0.0');
      if (variant.transport === 'http') {
        await publish('3.0.0', true);
        await publish('4.0.0', false, true);
      }

      let mqttUrl: string | undefined;
      if (variant.transport === 'mqtt')
        mqttUrl = variant.external
          ? parseBrokerUrl(TEST_MQTT_URL!).url
          : `mqtts://127.0.0.1:${server.mqtt.ports.tls}`;
      configFile = join(work, 'agent.json5');
      writeFileSync(
        configFile,
        `{
  thingName: ${JSON.stringify(thingName)},
  endpoint: ${JSON.stringify(server.deviceUrl)},
  certificateFile: 'device.crt', keyFile: 'device.key', caFile: 'ca.pem',
  transport: '${variant.transport}',
  ${mqttUrl ? `mqttUrl: ${JSON.stringify(mqttUrl)},` : ''}
  version: '1.0.0',
  // MQTT learns of jobs by notify-next (and the restarted agent confirms over it): no polling.
  update: { period: ${variant.transport === 'http' ? "'1s'" : "'1hr'"} },
  stateDir: 'state',
  trustedKeys: ['release.pub.pem'],
  packageName: ${JSON.stringify(pkg)},
  selfUpdate: { installRoot: 'opt', healthTimeoutSeconds: 60, restartDeadlineSeconds: 300 },
  logLevel: 'debug',
}
`,
      );
      startAgent();
      await runningFrom('releases/1.0.0', 0);
    });

    after(async () => {
      supervising = false;
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child?.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await server?.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test('a published release is installed, the agent restarts into it and reports SUCCEEDED', async () => {
      const before = starts.length;
      const jobId = await updateJob('2.0.0');
      const execution = await finalExecution(jobId);
      assert.equal(execution.status, 'SUCCEEDED', JSON.stringify(execution.statusDetails) + logs);
      const d = execution.statusDetails?.detailsMap ?? {};
      assert.equal(d.restarted, 'true');
      assert.equal(d.version, '2.0.0');
      assert.equal(d.previousVersion, '1.0.0');
      assert.equal(readlinkSync(join(installRoot, 'current')), join('releases', '2.0.0'));
      // It went through the restart: exit code, then a start from the new release.
      assert.equal(starts[before], 'releases/2.0.0', starts.join(', '));
      assert.match(logs, new RegExp(`\\[systemd\\] exited ${AGENT_RESTART_EXIT_CODE}`));
      assert.match(logs, /"msg":"confirmed after the restart"/);
      // The old release is kept for a later rollback.
      assert.ok(existsSync(join(installRoot, 'releases', '1.0.0', 'bin', 'otter-agent')));
      const shadow = await eventually(
        async () => {
          const r = await data.send(new GetThingShadowCommand({ thingName, shadowName: '$package' }));
          const doc = JSON.parse(Buffer.from(r.payload!).toString('utf8')) as {
            state: { reported?: Record<string, { version: string }> };
          };
          return doc.state.reported?.[pkg];
        },
        10_000,
        '$package shadow',
      );
      assert.deepEqual(shadow, { version: '2.0.0' });
      // Exactly one final status: the journal is cleared, the last result is this job. (The agent
      // clears it once the service's reply arrives, after the service took SUCCEEDED: over MQTT,
      // Mosquitto's hop back to the device can still be under way here, so wait for it.)
      await eventually(
        () => (existsSync(join(work, 'state', 'journal.json')) ? undefined : true),
        10_000,
        'the journal to be cleared',
      );
      const last = readAgentStatus(join(work, 'state')).lastResult;
      assert.equal(last?.jobId, jobId, JSON.stringify(last));
      assert.equal(last?.status, 'SUCCEEDED');
      const reported = logs
        .split('\n')
        .filter((l) => l.includes('"msg":"job finished"') && l.includes(`"jobId":"${jobId}"`));
      assert.equal(reported.filter((l) => l.includes('"reported":true')).length, 1, reported.join('\n'));
      await runningFrom('releases/2.0.0', before);
      // Every start (the old release's and the new one's, which confirmed) ran over this transport.
      const started = logs.split('\n').filter((l) => l.includes('"msg":"agent started"'));
      assert.ok(started.length >= 2, logs);
      for (const l of started) assert.equal(JSON.parse(l).transport, variant.transport, l);
    });

    // The rollbacks do not depend on the transport: over HTTP only.
    if (variant.transport !== 'http') return;

    test('a release unhealthy after the restart is rolled back: FAILED, the old release current and running', async () => {
      const before = starts.length;
      const jobId = await updateJob('3.0.0');
      const execution = await finalExecution(jobId);
      assert.equal(execution.status, 'FAILED', JSON.stringify(execution.statusDetails) + logs);
      const d = execution.statusDetails?.detailsMap ?? {};
      assert.equal(d.reasonCode, 'HEALTH_CHECK_FAILED', JSON.stringify(d));
      assert.match(d.reason ?? '', /after the restart/);
      assert.match(d.rollback ?? '', /current is 2\.0\.0 again/);
      assert.equal(readlinkSync(join(installRoot, 'current')), join('releases', '2.0.0'));
      assert.ok(!existsSync(join(installRoot, 'releases', '3.0.0')));
      // Restarted into 3.0.0, then once more into 2.0.0 after the rollback.
      await runningFrom('releases/2.0.0', before + 1);
      assert.deepEqual(starts.slice(before), ['releases/3.0.0', 'releases/2.0.0']);
      // The $package shadow still says 2.0.0.
      const r = await data.send(new GetThingShadowCommand({ thingName, shadowName: '$package' }));
      const doc = JSON.parse(Buffer.from(r.payload!).toString('utf8')) as {
        state: { reported?: Record<string, { version: string }> };
      };
      assert.deepEqual(doc.state.reported?.[pkg], { version: '2.0.0' });
    });

    test('a release that crashes at every start is rolled back by the launcher: FAILED RELEASE_CRASHED', async () => {
      assert.ok(existsSync(join(installRoot, 'launcher')), 'the agent wrote the launcher');
      const before = starts.length;
      const jobId = await updateJob('4.0.0');
      const execution = await finalExecution(jobId);
      assert.equal(execution.status, 'FAILED', JSON.stringify(execution.statusDetails) + logs);
      const d = execution.statusDetails?.detailsMap ?? {};
      assert.equal(d.reasonCode, 'RELEASE_CRASHED', JSON.stringify(d));
      assert.match(d.reason ?? '', /started 3 times without confirming itself/);
      assert.equal(readlinkSync(join(installRoot, 'current')), join('releases', '2.0.0'));
      assert.ok(!existsSync(join(installRoot, 'releases', '4.0.0')));
      assert.ok(!existsSync(join(installRoot, 'unconfirmed')));
      // Three crashing starts of 4.0.0, then the launcher's switch back (this start runs 2.0.0).
      assert.equal((logs.match(/release 4\.0\.0 crashes at start/g) ?? []).length, 3, logs);
      assert.deepEqual(starts.slice(before, before + 4), [
        'releases/4.0.0',
        'releases/4.0.0',
        'releases/4.0.0',
        'releases/4.0.0',
      ]);
      assert.match(
        logs,
        /launcher: release 4\.0\.0 started 3 times without confirming itself; back to 2\.0\.0/,
      );
    });
  });
}
