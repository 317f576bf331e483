/**
 * `reboot: on-success` against a real server: a fake reboot command (a script) and a fake boot id
 * file. The command runs once every step succeeded, after the journal says `rebooting`; the next
 * start with another boot id reports SUCCEEDED {rebooted}; a failing command, or the same boot id
 * after the reboot timeout, rolls back and reports FAILED.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateJobCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { generateSigningKey, signDigest } from '@otter/core';
import { startTestServer, type TestServer } from '../../../server/src/testing/test-server.js';
import { validateAgentConfig } from '../config/agent-config.js';
import { Journal } from '../journal/journal.js';
import type { FinishedEvent } from '../loop/job-runner.js';
import { createLogger } from '../loop/logger.js';
import { provisionDevice, sha256 } from '../testing/device.js';
import { type Agent, createAgent } from './agent.js';

describe('reboot: on-success', () => {
  let s: TestServer;
  let work: string;
  const thingName = `reboot-${process.pid}-${Date.now().toString(36)}`;
  const key = generateSigningKey('ED25519');

  before(async () => {
    s = await startTestServer();
    work = mkdtempSync(join(tmpdir(), 'otter-agent-reboot-'));
    mkdirSync(join(work, 'target'));
    await provisionDevice(s.iot, s.server, thingName, work);
    // The fake reboot command: records that it ran, exits with $FAKE_REBOOT_EXIT (default 0).
    writeFileSync(
      join(work, 'fake-reboot'),
      `#!/bin/sh\necho "$@" >> "${join(work, 'reboots.log')}"\nexit "\${FAKE_REBOOT_EXIT:-0}"\n`,
    );
    chmodSync(join(work, 'fake-reboot'), 0o755);
  });
  after(async () => {
    await s?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const config = (exit: number, timeoutSeconds = 600) =>
    validateAgentConfig(
      {
        thingName,
        endpoint: s.server.deviceUrl,
        certificateFile: 'device.crt',
        keyFile: 'device.key',
        caFile: 'ca.pem',
        version: '1.0.0',
        update: { period: 1 },
        stateDir: 'state',
        trustedKeys: [key.publicKeyPem],
        rebootCommand: ['sh', '-c', `FAKE_REBOOT_EXIT=${exit} exec "$0" now`, join(work, 'fake-reboot')],
        rebootTimeoutSeconds: timeoutSeconds,
      },
      { baseDir: work },
    );
  const bootIdFile = () => join(work, 'boot_id');
  const reboots = () =>
    existsSync(join(work, 'reboots.log')) ? readFileSync(join(work, 'reboots.log'), 'utf8') : '';

  async function createRebootJob(name: string): Promise<{ jobId: string; dest: string; body: Buffer }> {
    const body = Buffer.from(`${name} firmware\n`.repeat(200));
    await s.native('PUT', `/v1/artifacts/reboot/${name}.bin`, body);
    const dest = join(work, 'target', `${name}.bin`);
    const jobId = `${name}-${Date.now().toString(36)}`;
    await s.iot.send(
      new CreateJobCommand({
        jobId,
        targets: [`arn:aws:iot:${s.region}:${s.server.config.accountId}:thing/${thingName}`],
        document: JSON.stringify({
          otter: 1,
          version: '2.0.0',
          reboot: 'on-success',
          files: [
            {
              name: 'app.bin',
              url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/reboot/${name}.bin}`,
              sha256: sha256(body),
              signature: signDigest(key.privateKeyPem, sha256(body)).signature,
              signatureAlgorithm: 'ED25519',
            },
          ],
          steps: [{ handler: 'file', params: { dest } }],
        }),
      }),
    );
    return { jobId, dest, body };
  }

  const start = async (c: Awaited<ReturnType<typeof config>>, lines: string[]) => {
    const agent = createAgent(c, {
      fileRoots: [join(work, 'target')],
      bootIdFile: bootIdFile(),
      logger: createLogger('debug', (l) => lines.push(l)),
    });
    const finished = new Promise<FinishedEvent>((r) => agent.on('job:finished', r));
    await agent.start();
    return { agent, finished };
  };

  /** Waits until the reboot command ran `n` times and the journal says `rebooting`. */
  async function untilRebooting(agent: Agent, n: number, lines: string[]): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (reboots().split('\n').filter(Boolean).length < n || agent.status().job?.step !== 'rebooting') {
      assert.ok(Date.now() < deadline, `never rebooted: ${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('journals rebooting, runs the command, and the start after the reboot reports SUCCEEDED', async () => {
    writeFileSync(bootIdFile(), 'boot-1\n');
    const c = await config(0);
    const lines: string[] = [];
    const first = await start(c, lines);
    const { jobId, dest, body } = await createRebootJob('ok');
    let running = true;
    try {
      first.agent.checkNow();
      await untilRebooting(first.agent, 1, lines);
      assert.match(reboots(), /^now$/m);
      // What the device would see before going down: the journal, and IN_PROGRESS {step: rebooting}.
      const j = new Journal(c.stateDir).load();
      assert.equal(j?.step, 'rebooting');
      assert.deepEqual(readFileSync(dest), body);
      const waiting = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
      assert.equal(waiting.execution?.status, 'IN_PROGRESS');
      assert.equal(waiting.execution?.statusDetails?.detailsMap?.step, 'rebooting');
      // Shutdown stops the agent; the machine comes back with another boot id.
      await first.agent.stop();
      running = false;
    } finally {
      if (running) await first.agent.stop();
    }
    writeFileSync(bootIdFile(), 'boot-2\n');
    const second = await start(c, lines);
    try {
      const done = await second.finished;
      assert.equal(done.jobId, jobId);
      assert.equal(done.status, 'SUCCEEDED');
      const r = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
      assert.equal(r.execution?.status, 'SUCCEEDED');
      assert.equal(r.execution?.statusDetails?.detailsMap?.rebooted, 'true');
      assert.equal(r.execution?.statusDetails?.detailsMap?.previousBootId, 'boot-1');
      assert.deepEqual(readFileSync(dest), body);
      assert.equal(reboots().split('\n').filter(Boolean).length, 1, 'rebooted once');
    } finally {
      await second.agent.stop();
    }
  });

  test('a failing reboot command rolls back and reports FAILED REBOOT_FAILED', async () => {
    writeFileSync(bootIdFile(), 'boot-3\n');
    const lines: string[] = [];
    const { agent, finished } = await start(await config(3), lines);
    try {
      const { jobId, dest } = await createRebootJob('failing');
      agent.checkNow();
      const done = await finished;
      assert.equal(done.jobId, jobId);
      assert.equal(done.status, 'FAILED');
      assert.equal(done.reasonCode, 'REBOOT_FAILED');
      assert.match(done.reason ?? '', /exited 3/);
      assert.equal(existsSync(dest), false, 'the installed file was rolled back');
      const r = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
      assert.equal(r.execution?.status, 'FAILED');
      assert.equal(r.execution?.statusDetails?.detailsMap?.reasonCode, 'REBOOT_FAILED');
    } finally {
      await agent.stop();
    }
  });

  test('starting again with the same boot id after the timeout reports FAILED REBOOT_TIMEOUT', async () => {
    writeFileSync(bootIdFile(), 'boot-4\n');
    const c = await config(0, 1);
    const lines: string[] = [];
    const before = reboots().split('\n').filter(Boolean).length;
    const first = await start(c, lines);
    const { jobId, dest } = await createRebootJob('stuck');
    try {
      first.agent.checkNow();
      await untilRebooting(first.agent, before + 1, lines);
    } finally {
      await first.agent.stop(); // stopped before its own deadline passed: the journal stays
    }
    assert.equal(new Journal(c.stateDir).load()?.step, 'rebooting');
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s reboot timeout
    const second = await start(c, lines);
    try {
      const done = await second.finished;
      assert.equal(done.jobId, jobId);
      assert.equal(done.status, 'FAILED');
      assert.equal(done.reasonCode, 'REBOOT_TIMEOUT');
      assert.equal(existsSync(dest), false, 'the installed file was rolled back');
    } finally {
      await second.agent.stop();
    }
  });
});
