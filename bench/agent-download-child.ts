/**
 * Bench helper process: the agent's downloader alone. Downloads argv[2]'s JSON DownloadOptions
 * (trusted keys as { publicKeyPem, algorithm, keyId }), then prints one JSON line: ms (the download
 * call, hashing, signature check and fsync included), transferMs (until the last byte was received
 * and hashed), bytes, sha256 and maxRssKiB (the process's peak RSS). bench/agent.ts runs it bundled by
 * esbuild under plain node (as a release would run) and once from source under tsx.
 */
import { download } from '../packages/agent/src/download/download.js';

const options = JSON.parse(process.argv[2] ?? '{}');
let transferMs = 0;
const started = performance.now();
const r = await download({
  ...options,
  onProgress: (p: { received: number; total?: number }) => {
    if (p.received === p.total) transferMs = performance.now() - started;
  },
});
const ms = performance.now() - started;
process.stdout.write(
  `${JSON.stringify({ ms, transferMs, bytes: r.size, sha256: r.sha256, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
);
