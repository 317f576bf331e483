/**
 * The crash test: a real server and a real agent process, SIGKILLed at a random point of a job
 * (download or install), restarted, many times. Every run must end with the old or the new file
 * fully in place — the new one exactly when the execution SUCCEEDED — and exactly one final status
 * reported. OTTER_AGENT_CRASH_RUNS sets the number of runs (default 8) over HTTPS; the same test
 * runs over MQTT too (the embedded broker's plain port, the device token as password) with at most
 * 3 runs, to keep the suite's time down.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateJobCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { generateSigningKey, signDigest } from '@otter/core';
import { deviceToken } from '../../../server/src/mqtt/device-token.js';
import { startTestServer, type TestServer } from '../../../server/src/testing/test-server.js';
import { readAgentStatus } from '../status/status.js';
import { eventually, provisionDevice, sha256 } from '../testing/device.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const MAIN = join(ROOT, 'packages/agent/src/main.ts');
const RUNS = Number(process.env.OTTER_AGENT_CRASH_RUNS ?? 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const VARIANTS = [
  { name: 'HTTP', transport: 'http' as const, runs: RUNS },
  { name: 'MQTT (embedded broker, device token)', transport: 'mqtt' as const, runs: Math.min(RUNS, 3) },
];

for (const { name: variantName, transport, runs } of VARIANTS)
  describe(`agent crash test over ${variantName}: SIGKILL at random points of download and install`, () => {
    let s: TestServer;
    let work: string;
    let configFile: string;
    let stateDir: string;
    let dest: string;
    let agent: ChildProcess | undefined;
    let logs: string[] = [];
    const thingName = `crash-${transport}-${process.pid}-${Date.now().toString(36)}`;
    const key = generateSigningKey('ED25519');

    const startAgent = async () => {
      const out: string[] = [];
      logs.push('');
      const index = logs.length - 1;
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          MAIN,
          '--config',
          configFile,
          '--allow-root',
          dirname(dest),
          '--progress-interval',
          '50',
        ],
        { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (c: Buffer) => {
        logs[index] += c.toString();
        out.push(c.toString());
      });
      agent = child;
      await eventually(
        () => (logs[index]?.includes('"agent started"') ? true : undefined),
        20_000,
        'agent start',
      );
      return index;
    };

    const kill = async () => {
      const a = agent;
      if (!a || a.exitCode !== null || a.signalCode !== null) return;
      const exited = new Promise((r) => a.once('exit', r));
      a.kill('SIGKILL');
      await exited;
    };

    before(async () => {
      s = await startTestServer();
      work = mkdtempSync(join(tmpdir(), 'otter-agent-crash-'));
      mkdirSync(join(work, 'target'));
      dest = join(work, 'target', 'app.bin');
      stateDir = join(work, 'state');
      await provisionDevice(s.iot, s.server, thingName, work, key.publicKeyPem);
      // A second install step that takes a while, so kills also land after the file was placed.
      mkdirSync(join(work, 'handlers'));
      writeFileSync(join(work, 'handlers', 'settle'), '#!/bin/sh\nsleep 0.4\n', { mode: 0o755 });
      if (transport === 'mqtt')
        writeFileSync(join(work, 'token'), deviceToken(s.server.secretAccessKey, thingName));
      configFile = join(work, 'agent.json5');
      writeFileSync(
        configFile,
        JSON.stringify({
          thingName,
          endpoint: s.server.deviceUrl,
          certificateFile: 'device.crt',
          keyFile: 'device.key',
          caFile: 'ca.pem',
          transport,
          ...(transport === 'mqtt'
            ? { mqttUrl: `mqtt://127.0.0.1:${s.server.mqtt.ports.mqtt}`, mqtt: { tokenFile: 'token' } }
            : {}),
          version: '1.0.0',
          // 1 ms per 4 KiB: a 1 MiB artifact takes a good fraction of a second, so kills land inside it.
          // MQTT learns of jobs by notify-next, and of the one in flight at a restart by $next: no polling.
          update: { period: transport === 'http' ? '1s' : '1hr', throttle: 1 },
          stateDir: 'state',
          handlers: { dir: 'handlers' },
          trustedKeys: ['release.pub.pem'],
          logLevel: 'info',
        }),
      );
    });

    after(async () => {
      await kill();
      await s?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test(`${runs} runs, each killed once at a random point, end old-or-new with one final status`, async () => {
      let current = Buffer.from('version 0\n');
      writeFileSync(dest, current);
      const outcomes: Record<string, number> = {};
      const killedAt: Record<string, number> = {};
      for (let run = 1; run <= runs; run++) {
        const next = Buffer.alloc(1 << 20, `version ${run} `);
        const name = `crash/${thingName}/v${run}.bin`;
        const put = await s.native('PUT', `/v1/artifacts/${name}`, next);
        assert.ok(put.status === 201, `upload: ${put.status}`);
        const jobId = `crash-${run}-${Date.now().toString(36)}`;
        logs = [];
        await startAgent();
        await s.iot.send(
          new CreateJobCommand({
            jobId,
            targets: [`arn:aws:iot:${s.region}:${s.server.config.accountId}:thing/${thingName}`],
            document: JSON.stringify({
              otter: 1,
              version: `${run}.0.0`,
              files: [
                {
                  name: 'app.bin',
                  url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/${name}}`,
                  sha256: sha256(next),
                  size: next.length,
                  signature: signDigest(key.privateKeyPem, sha256(next)).signature,
                  signatureAlgorithm: 'ED25519',
                  signingKeyId: key.keyId,
                },
              ],
              steps: [{ handler: 'file', params: { dest } }, { handler: 'custom:settle' }],
            }),
          }),
        );
        await eventually(
          () => (logs[0]?.includes(`"job received","jobId":"${jobId}"`) ? true : undefined),
          20_000,
          `${jobId} received`,
        );
        await sleep(Math.floor(Math.random() * 1500));
        await kill();
        const at = readAgentStatus(stateDir).job?.step ?? 'no job in the journal';
        killedAt[at] = (killedAt[at] ?? 0) + 1;
        // Old or new, fully, at any instant.
        const now = readFileSync(dest);
        assert.ok(now.equals(current) || now.equals(next), `run ${run}: a mix after the kill`);
        await startAgent();
        const execution = await eventually(
          async () => {
            const r = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
            const st = r.execution?.status;
            return st === 'SUCCEEDED' || st === 'FAILED' || st === 'REJECTED' ? r.execution : undefined;
          },
          30_000,
          `${jobId} final`,
        );
        await eventually(
          () => (readAgentStatus(stateDir).job === undefined ? true : undefined),
          10_000,
          'journal cleared',
        );
        await kill();
        const status = execution.status!;
        outcomes[status] = (outcomes[status] ?? 0) + 1;
        const final = readFileSync(dest);
        if (status === 'SUCCEEDED') {
          assert.ok(final.equals(next), `run ${run}: SUCCEEDED but the new file is not in place`);
          current = next;
        } else {
          assert.equal(status, 'FAILED', `run ${run}: ${JSON.stringify(execution.statusDetails)}`);
          assert.ok(final.equals(current), `run ${run}: FAILED but the old file is not in place`);
        }
        // The service takes one terminal transition; the agent must not claim two. (A kill right
        // after the service took it leaves no "reported":true line: the restart finds it final.)
        const finished = logs
          .join('')
          .split('\n')
          .filter((l) => l.includes('"msg":"job finished"') && l.includes(`"jobId":"${jobId}"`));
        const reported = finished.filter((l) => l.includes('"reported":true'));
        assert.ok(finished.length >= 1, `run ${run}: no final status logged\n${logs.join('\n---\n')}`);
        assert.ok(reported.length <= 1, `run ${run}: final status reported ${reported.length} times`);
        assert.match(logs[0] ?? '', new RegExp(`"msg":"agent started".*"transport":"${transport}"`));
      }
      process.stderr.write(
        `crash test over ${variantName}: killed at ${JSON.stringify(killedAt)}; outcomes ${JSON.stringify(outcomes)}\n`,
      );
    });
  });
