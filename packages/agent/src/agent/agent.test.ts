/**
 * The library API in process, against a real server over HTTPS with the device certificate:
 * events, `device:update` deferral then approval, status(), a second agent refused by the lock.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateJobCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { generateSigningKey, signDigest } from '@otter/core';
import { startTestServer, type TestServer } from '../../../server/src/testing/test-server.js';
import { validateAgentConfig } from '../config/agent-config.js';
import { AgentLockError } from '../lock/agent-lock.js';
import type { FinishedEvent, ProgressEvent, UpdateRequest } from '../loop/job-runner.js';
import { createLogger } from '../loop/logger.js';
import { provisionDevice } from '../testing/device.js';
import { createAgent } from './agent.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('createAgent (library API)', () => {
  let s: TestServer;
  let work: string;
  const thingName = `lib-${process.pid}-${Date.now().toString(36)}`;
  const key = generateSigningKey('ED25519');
  let config: Awaited<ReturnType<typeof validateAgentConfig>>;

  before(async () => {
    s = await startTestServer();
    work = mkdtempSync(join(tmpdir(), 'otter-agent-lib-'));
    mkdirSync(join(work, 'target'));
    await provisionDevice(s.iot, s.server, thingName, work);
    config = await validateAgentConfig(raw(), { baseDir: work });
  });

  const raw = () => ({
    thingName,
    endpoint: s.server.deviceUrl,
    certificateFile: 'device.crt',
    keyFile: 'device.key',
    caFile: 'ca.pem',
    version: '1.0.0',
    update: { period: 1 },
    stateDir: 'state',
    trustedKeys: [key.publicKeyPem],
  });

  after(async () => {
    await s?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('events, a deferral then an approval, status() and the single-instance lock', async () => {
    const body = Buffer.from('library firmware\n'.repeat(1000));
    await s.native('PUT', '/v1/artifacts/lib/app.bin', body);
    const dest = join(work, 'target', 'app.bin');
    const lines: string[] = [];
    const agent = createAgent(config, {
      fileRoots: [join(work, 'target')],
      progressIntervalMs: 0,
      logger: createLogger('debug', (l) => lines.push(l)),
    });
    const received: string[] = [];
    const progress: ProgressEvent[] = [];
    const asked: UpdateRequest[] = [];
    const finished = new Promise<FinishedEvent>((r) => agent.on('job:finished', r));
    agent.on('job:received', (e) => received.push(e.jobId));
    agent.on('job:progress', (e) => progress.push(e));
    agent.on('device:update', async (request) => {
      asked.push(request);
      return asked.length === 1 ? 'defer' : 'approve';
    });
    await agent.start();
    try {
      assert.equal(agent.status().state, 'idle');
      // A second agent on the same state folder is refused, naming the first.
      const second = createAgent(config, { fileRoots: [] });
      await assert.rejects(
        second.start(),
        (e: unknown) => e instanceof AgentLockError && /pid/.test(e.message),
      );

      const jobId = `lib-job-${Date.now().toString(36)}`;
      await s.iot.send(
        new CreateJobCommand({
          jobId,
          targets: [`arn:aws:iot:${s.region}:${s.server.config.accountId}:thing/${thingName}`],
          document: JSON.stringify({
            otter: 1,
            version: '2.0.0',
            files: [
              {
                name: 'app.bin',
                url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/lib/app.bin}`,
                sha256: sha256(body),
                signature: signDigest(key.privateKeyPem, sha256(body)).signature,
                signatureAlgorithm: 'ED25519',
              },
            ],
            steps: [{ handler: 'file', params: { dest } }],
          }),
        }),
      );
      agent.checkNow();
      const done = await finished;
      assert.equal(done.jobId, jobId);
      assert.equal(done.status, 'SUCCEEDED');
      assert.equal(done.reported, true);
      assert.equal(asked.length, 2, 'asked once, deferred, asked again at the next period');
      assert.equal(asked[0]?.version, '2.0.0');
      assert.equal(asked[0]?.currentVersion, '1.0.0');
      assert.deepEqual(received, [jobId, jobId]);
      assert.ok(progress.some((p) => p.step === 'download' && p.progress === 100));
      assert.deepEqual(readFileSync(dest), body);
      const r = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
      assert.equal(r.execution?.status, 'SUCCEEDED');
      assert.equal(agent.status().lastResult?.status, 'SUCCEEDED');
      assert.equal(agent.status().job, undefined);
      assert.ok(lines.some((l) => JSON.parse(l).msg === 'the application deferred the update'));
    } finally {
      await agent.stop();
    }
    assert.equal(agent.status().state, 'stopped');
  });

  test('outside update.apply the job waits downloaded; a stop keeps it, the next start resumes and installs', async () => {
    const body = Buffer.from('windowed firmware\n'.repeat(500));
    await s.native('PUT', '/v1/artifacts/lib/windowed.bin', body);
    const dest = join(work, 'target', 'windowed.bin');
    const closedMinute = (new Date().getUTCMinutes() + 30) % 60;
    const closed = await validateAgentConfig(
      { ...raw(), update: { period: 1, apply: `${closedMinute} * * * *` } },
      { baseDir: work },
    );
    const lines: string[] = [];
    const first = createAgent(closed, {
      fileRoots: [join(work, 'target')],
      logger: createLogger('info', (l) => lines.push(l)),
    });
    await first.start();
    const jobId = `win-job-${Date.now().toString(36)}`;
    await s.iot.send(
      new CreateJobCommand({
        jobId,
        targets: [`arn:aws:iot:${s.region}:${s.server.config.accountId}:thing/${thingName}`],
        document: JSON.stringify({
          otter: 1,
          files: [
            {
              name: 'w.bin',
              url: `\${aws:iot:s3-presigned-url:${s.server.url}/v1/artifacts/lib/windowed.bin}`,
              sha256: sha256(body),
              signature: signDigest(key.privateKeyPem, sha256(body)).signature,
              signatureAlgorithm: 'ED25519',
            },
          ],
          steps: [{ handler: 'file', params: { dest } }],
        }),
      }),
    );
    first.checkNow();
    const deadline = Date.now() + 10_000;
    while (first.status().job?.step !== 'apply-window') {
      assert.ok(Date.now() < deadline, `never waited for the apply window: ${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const waiting = await s.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
    assert.equal(waiting.execution?.status, 'IN_PROGRESS');
    assert.equal(waiting.execution?.statusDetails?.detailsMap?.step, 'waiting-apply-window');
    await first.stop();
    assert.throws(() => readFileSync(dest), /ENOENT/, 'nothing installed outside the window');

    const open = createAgent(config, { fileRoots: [join(work, 'target')] });
    const finished = new Promise<FinishedEvent>((r) => open.on('job:finished', r));
    await open.start();
    try {
      const done = await finished;
      assert.equal(done.jobId, jobId);
      assert.equal(done.status, 'SUCCEEDED');
      assert.deepEqual(readFileSync(dest), body);
    } finally {
      await open.stop();
    }
  });
});
