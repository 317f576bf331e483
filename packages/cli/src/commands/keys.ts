/**
 * `otter keys`: local signing keys and the server's registry of public keys (docs/signing.md).
 */
import { parseArgs } from 'node:util';
import { generateSigningKey, type SigningAlgorithm } from '@otter/core';
import { CliError, createClient, type OtterClient } from '../client.js';
import { checkKeyName, KeyStore, keysDir, type LocalKey, readKeyFile } from '../keystore.js';

export const KEYS_USAGE = `usage: otter keys <subcommand> [options]

subcommands:
  generate NAME [--algorithm ed25519|p256]   new key pair (default ed25519)
  import NAME FILE [--public]                 a private key PEM; --public: a public key, verify only
  list                                        local keys, and whether the server has them
  register NAME                               upload the public key to the server

options:
  --no-register      generate/import: do not register with the server
  --endpoint URL     server (default OTTER_ENDPOINT or http://127.0.0.1:8780)
  --region REGION    signing region (default AWS_REGION, AWS_DEFAULT_REGION, profile, us-east-1)

Keys live in OTTER_KEYS_DIR (default ~/.config/otter/keys). Credentials: the AWS chain
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws).
`;

const ALGORITHMS: Record<string, SigningAlgorithm> = {
  ed25519: 'ED25519',
  p256: 'ECDSA_P256_SHA256',
  ED25519: 'ED25519',
  ECDSA_P256_SHA256: 'ECDSA_P256_SHA256',
};

/** How long an automatic registration waits for the server before giving up on it. */
const REGISTER_TIMEOUT_MS = 10_000;

interface ServerKey {
  name: string;
  keyId: string;
  algorithm: SigningAlgorithm;
  createdAt: number;
}

type Env = Record<string, string | undefined>;
type Out = (line: string) => void;

const out: Out = (line) => process.stdout.write(`${line}\n`);
const warn: Out = (line) => process.stderr.write(`${line}\n`);

/** Runs `otter keys ...`; resolves to the exit code. */
export async function keysCommand(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      algorithm: { type: 'string', short: 'a' },
      public: { type: 'boolean' },
      'no-register': { type: 'boolean' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined || sub === 'help') {
    process.stdout.write(KEYS_USAGE);
    return sub === undefined && !values.help ? 2 : 0;
  }
  const store = new KeyStore(keysDir(env));
  const flags = { endpoint: values.endpoint, region: values.region };
  const client = () => createClient(flags, env);
  const expect = (n: number, usage: string) => {
    if (rest.length !== n) throw new CliError(`usage: otter keys ${usage}`, { exitCode: 2 });
  };
  const onlyFor = (option: string, allowed: string[]) => {
    if (values[option as keyof typeof values] !== undefined && !allowed.includes(sub)) {
      throw new CliError(`--${option} does not apply to 'keys ${sub}'`, { exitCode: 2 });
    }
  };
  onlyFor('algorithm', ['generate']);
  onlyFor('public', ['import']);
  onlyFor('no-register', ['generate', 'import']);

  switch (sub) {
    case 'generate': {
      expect(1, 'generate NAME [--algorithm ed25519|p256] [--no-register]');
      const name = checkKeyName(rest[0]);
      const algorithm = ALGORITHMS[values.algorithm ?? 'ed25519'];
      if (algorithm === undefined) {
        throw new CliError(`unknown algorithm '${values.algorithm}': use ed25519 or p256`, { exitCode: 2 });
      }
      if (store.has(name)) {
        throw new CliError(`a key named ${name} already exists in ${store.dir}; choose another name`);
      }
      const key = store.save(name, generateSigningKey(algorithm));
      out(`generated ${key.algorithm} key ${name} (keyId ${key.keyId})`);
      printFiles(key);
      return values['no-register'] ? 0 : autoRegister(await client(), key);
    }
    case 'import': {
      expect(2, 'import NAME FILE [--public] [--no-register]');
      const name = checkKeyName(rest[0]);
      const parsed = readKeyFile(rest[1]!, values.public === true);
      const key = store.save(name, parsed);
      out(
        `imported ${key.algorithm} ${key.privateKeyFile ? 'key pair' : 'public key (verification only)'} ` +
          `${name} (keyId ${key.keyId})`,
      );
      printFiles(key);
      return values['no-register'] ? 0 : autoRegister(await client(), key);
    }
    case 'register': {
      expect(1, 'register NAME');
      const key = store.load(checkKeyName(rest[0]));
      await register(await client(), key);
      return 0;
    }
    case 'list': {
      expect(0, 'list');
      return list(store, await client());
    }
    default:
      throw new CliError(`unknown subcommand 'keys ${sub}'\n\n${KEYS_USAGE}`, { exitCode: 2 });
  }
}

function printFiles(key: LocalKey): void {
  if (key.privateKeyFile) out(`  private key: ${key.privateKeyFile}`);
  out(`  public key:  ${key.publicKeyFile}`);
}

async function register(client: OtterClient, key: LocalKey, timeoutMs?: number): Promise<void> {
  const res = await client.nativeRequest('PUT', `/v1/signing-keys/${encodeURIComponent(key.name)}`, {
    body: Buffer.from(JSON.stringify({ publicKeyPem: key.publicKeyPem })),
    headers: { 'content-type': 'application/json' },
    timeoutMs,
  });
  const stored = (await res.json()) as ServerKey;
  out(
    res.status === 201
      ? `registered ${stored.name} (keyId ${stored.keyId}) with ${client.endpoint}`
      : `${stored.name} (keyId ${stored.keyId}) was already registered with ${client.endpoint}`,
  );
}

/** Registers a new key when the server is reachable; an unreachable server is a note, not a failure. */
async function autoRegister(client: OtterClient, key: LocalKey): Promise<number> {
  try {
    await register(client, key, REGISTER_TIMEOUT_MS);
    return 0;
  } catch (e) {
    if (e instanceof CliError && (e.unreachable || e.type === 'CredentialsProviderError')) {
      warn(`note: not registered with the server: ${e.message}`);
      warn(`      run 'otter keys register ${key.name}' when it is available`);
      return 0;
    }
    if (e instanceof CliError) {
      warn(`otter: the key is saved locally but was not registered: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}

async function serverKeys(client: OtterClient): Promise<ServerKey[]> {
  const keys: ServerKey[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.nativeJson<{ signingKeys: ServerKey[]; nextToken?: string }>(
      'GET',
      '/v1/signing-keys',
      undefined,
      { query: { maxResults: '250', nextToken }, timeoutMs: REGISTER_TIMEOUT_MS },
    );
    keys.push(...page.signingKeys);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return keys;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

async function list(store: KeyStore, client: OtterClient): Promise<number> {
  const local = store.list();
  let remote: ServerKey[] | undefined;
  let remoteError: string | undefined;
  try {
    remote = await serverKeys(client);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    remoteError = e.message;
  }
  const byName = new Map(remote?.map((k) => [k.name, k]));
  const rows = [['NAME', 'ALGORITHM', 'KEY ID', 'PRIVATE', 'REGISTERED']];
  for (const key of local) {
    if ('error' in key) {
      rows.push([key.name, '?', '?', '?', `unreadable: ${key.error}`]);
      continue;
    }
    const there = byName.get(key.name);
    const registered =
      remote === undefined
        ? '?'
        : there === undefined
          ? 'no'
          : there.keyId === key.keyId
            ? 'yes'
            : 'other key';
    rows.push([key.name, key.algorithm, key.keyId, key.privateKeyFile ? 'yes' : 'no', registered]);
  }
  if (local.length === 0) out(`no local keys in ${store.dir} (create one: otter keys generate NAME)`);
  else for (const line of table(rows)) out(line);
  const localNames = new Set(local.map((k) => k.name));
  const serverOnly = (remote ?? []).filter((k) => !localNames.has(k.name));
  if (serverOnly.length > 0) {
    out(`\nregistered with ${client.endpoint} only:`);
    const serverRows = [
      ['NAME', 'ALGORITHM', 'KEY ID'],
      ...serverOnly.map((k) => [k.name, k.algorithm, k.keyId]),
    ];
    for (const line of table(serverRows)) out(line);
  }
  if (remoteError !== undefined) warn(`note: REGISTERED unknown (?): ${remoteError}`);
  return 0;
}
