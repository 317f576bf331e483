import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The configured access key, or the one generated on first start and kept in the data folder
 * (`credentials.json`, mode 0600). `generated` is true only on the start that created it.
 */
export function resolveAccessKey(
  configured: { accessKeyId?: string | undefined; secretAccessKey?: string | undefined },
  dataDir: string,
): { key: AccessKey; generated: boolean; file?: string } {
  if (configured.accessKeyId && configured.secretAccessKey)
    return {
      key: { accessKeyId: configured.accessKeyId, secretAccessKey: configured.secretAccessKey },
      generated: false,
    };
  const file = join(dataDir, 'credentials.json');
  if (existsSync(file))
    return { key: JSON.parse(readFileSync(file, 'utf8')) as AccessKey, generated: false, file };
  const id = [...randomBytes(16)].map((b) => ALNUM[b % 32]).join('');
  const key = { accessKeyId: `AKIA${id}`, secretAccessKey: randomBytes(30).toString('base64') };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(key, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, generated: true, file };
}
