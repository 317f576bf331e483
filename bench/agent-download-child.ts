/**
 * Bench helper process: the agent's downloader alone. Downloads argv[2]'s JSON DownloadOptions
 * (trusted keys as { publicKeyPem, algorithm, keyId }), then prints one JSON line: ms (the download
 * call, hashing, signature check and fsync included), bytes, and maxRssKiB (the process's peak RSS).
 */
import { download } from '../packages/agent/src/download/download.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const started = performance.now();
const r = await download(options);
const ms = performance.now() - started;
process.stdout.write(
  `${JSON.stringify({ ms, bytes: r.size, sha256: r.sha256, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
);
