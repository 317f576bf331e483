/**
 * The artifact download fast path (send-file.ts: pooled buffers; artifact-service.ts: shared file
 * descriptors, cached presign lookups) over real HTTP against a real server with the file system
 * blob store.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '@otter/core';
import { FREE_PORTS, type RunningServer, startServer } from '../main.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(url: string, agent: http.Agent | false, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A presigned URL issued by the server's own ArtifactService. */
async function presignedUrl(server: RunningServer, name: string): Promise<string> {
  return (await server.artifacts.presignArtifactUrl(name, 3600)).url;
}

describe('artifact downloads', () => {
  let server: RunningServer;
  let dataDir: string;
  const content = randomBytes(3 * MiB + 12345);
  const other = randomBytes(2 * MiB + 7);
  let url: string;

  const upload = async (name: string, body: Buffer) => {
    await server.artifacts.upload(name, Readable.from([body]), {
      expectedSha256: sha256(body),
    });
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'otter-download-'));
    server = await startServer({
      env: {},
      logger: false,
      clock: new ManualClock(Date.now()),
      overrides: {
        ...FREE_PORTS,
        dataDir,
        accessKeyId: 'AKIAOTTERTEST0000001',
        secretAccessKey: 'otter-test-secret-key',
        maxArtifactBytes: 8 * MiB,
      },
    });
    await upload('dl/fw.bin', content);
    url = await presignedUrl(server, 'dl/fw.bin');
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('consecutive, backward, growing and suffix ranges on one connection return the right bytes', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ranges: [number, number][] = [
        [0, MiB - 1],
        [MiB, 2 * MiB - 1],
        [2 * MiB, 2 * MiB + 99],
        [2 * MiB + 100, content.length - 1], // several chunks, to the end
        [0, 99], // backwards
        [100, MiB + 200_000], // a chunk and a partial one
        [5, 5],
      ];
      for (const [start, end] of ranges) {
        const res = await get(url, agent, { range: `bytes=${start}-${end}` });
        assert.equal(res.status, 206, `${start}-${end}`);
        assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${content.length}`);
        assert.ok(res.body.equals(content.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }
      const suffix = await get(url, agent, { range: 'bytes=-1000' });
      assert.ok(suffix.body.equals(content.subarray(content.length - 1000)));
      const full = await get(url, agent);
      assert.equal(full.status, 200);
      assert.equal(sha256(full.body), sha256(content));
    } finally {
      agent.destroy();
    }
  });

  test("one connection alternating between two artifacts gets each one's bytes", async () => {
    await upload('dl/other.bin', other);
    const otherUrl = await presignedUrl(server, 'dl/other.bin');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await get(url, agent, { range: `bytes=0-${MiB - 1}` });
      assert.ok(a.body.equals(content.subarray(0, MiB)));
      // Same descriptors cache and buffer pool, other content at the next offset.
      const b = await get(otherUrl, agent, { range: `bytes=${MiB}-${2 * MiB - 1}` });
      assert.equal(b.status, 206);
      assert.ok(b.body.equals(other.subarray(MiB, 2 * MiB)));
    } finally {
      agent.destroy();
    }
  });

  test('clients that disconnect mid-download leave the server serving everyone else', async () => {
    await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = http.get(url, { agent: false }, (res) => {
              res.once('data', () => {
                req.destroy();
                resolve();
              });
            });
            req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
          }),
      ),
    );
    const all = await Promise.all(Array.from({ length: 12 }, () => get(url, false)));
    for (const res of all) {
      assert.equal(res.status, 200);
      assert.equal(sha256(res.body), sha256(content));
    }
  });

  test('a deleted artifact is refused at once, though its lookup was cached', async () => {
    await upload('dl/short-lived.bin', other);
    const shortUrl = await presignedUrl(server, 'dl/short-lived.bin');
    assert.equal((await get(shortUrl, false)).status, 200);
    assert.equal((await get(shortUrl, false)).status, 200);
    await server.artifacts.delete('dl/short-lived.bin');
    const gone = await get(shortUrl, false);
    assert.equal(gone.status, 403);
    assert.equal(gone.headers['x-amzn-errortype'], 'AccessDeniedException');
    // The same content under the same name again: URLs bind name and content, so it works again.
    await upload('dl/short-lived.bin', other);
    const back = await get(shortUrl, false);
    assert.equal(back.status, 200);
    assert.ok(back.body.equals(other));
  });

  test('a name whose blob file is missing is 404 ResourceNotFoundException, not 500', async () => {
    const lost = randomBytes(1000);
    await upload('dl/lost.bin', lost);
    const lostUrl = await presignedUrl(server, 'dl/lost.bin');
    const hash = sha256(lost);
    rmSync(join(dataDir, 'artifacts', 'blobs', hash.slice(0, 2), hash));
    const res = await get(lostUrl, false);
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-amzn-errortype'], 'ResourceNotFoundException');
  });

  test('an empty artifact downloads as an empty body', async () => {
    await upload('dl/empty.bin', Buffer.alloc(0));
    const res = await get(await presignedUrl(server, 'dl/empty.bin'), false);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.body.length, 0);
  });
});
