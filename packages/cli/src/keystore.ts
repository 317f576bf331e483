/**
 * Local signing keys: `<dir>/<name>.key.pem` (PKCS#8, mode 0600) and `<dir>/<name>.pub.pem` (SPKI),
 * in OTTER_KEYS_DIR or ~/.config/otter/keys (mode 0700). A name with only a public key is trusted
 * for verification but cannot sign.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  isSigningError,
  type PrivateSigningKey,
  type PublicSigningKey,
  parsePrivateKey,
  parsePublicKey,
} from '@otter/core';
import { CliError } from './client.js';

export const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export interface LocalKey extends PublicSigningKey {
  name: string;
  publicKeyFile: string;
  /** Absent for a verification-only (public) key. */
  privateKeyFile?: string;
}

/** The keys folder from the environment. */
export const keysDir = (env: Record<string, string | undefined>): string =>
  env.OTTER_KEYS_DIR || join(homedir(), '.config', 'otter', 'keys');

export function checkKeyName(name: string | undefined): string {
  if (name === undefined || !KEY_NAME.test(name) || name === '.' || name === '..') {
    throw new CliError(
      `invalid key name ${JSON.stringify(name ?? '')}: 1 to 64 characters of A-Z a-z 0-9 . _ -`,
      { exitCode: 2 },
    );
  }
  return name;
}

const asCliError = (what: string, e: unknown): unknown =>
  isSigningError(e) ? new CliError(`${what}: ${e.message}`) : e;

export class KeyStore {
  constructor(readonly dir: string) {}

  privateFile = (name: string) => join(this.dir, `${name}.key.pem`);
  publicFile = (name: string) => join(this.dir, `${name}.pub.pem`);

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  has(name: string): boolean {
    return existsSync(this.privateFile(name)) || existsSync(this.publicFile(name));
  }

  /**
   * Saves a key pair, or a public key alone. Never overwrites: a name already in use is a
   * CliError, and nothing is written.
   */
  save(name: string, key: PrivateSigningKey | PublicSigningKey): LocalKey {
    checkKeyName(name);
    if (this.has(name)) {
      throw new CliError(`a key named ${name} already exists in ${this.dir}; choose another name`);
    }
    this.ensureDir();
    const written: string[] = [];
    try {
      if ('privateKeyPem' in key) {
        // 'wx': fail rather than replace a file that appeared meanwhile.
        writeFileSync(this.privateFile(name), key.privateKeyPem, { mode: 0o600, flag: 'wx' });
        written.push(this.privateFile(name));
        chmodSync(this.privateFile(name), 0o600);
      }
      writeFileSync(this.publicFile(name), key.publicKeyPem, { mode: 0o644, flag: 'wx' });
      written.push(this.publicFile(name));
    } catch (e) {
      for (const file of written) rmSync(file, { force: true });
      if ((e as { code?: string }).code === 'EEXIST') {
        throw new CliError(`a key named ${name} already exists in ${this.dir}; choose another name`);
      }
      throw e;
    }
    return this.load(name);
  }

  /** A key by name; CliError when there is none or its files are unreadable. */
  load(name: string): LocalKey {
    checkKeyName(name);
    const publicKeyFile = this.publicFile(name);
    const privateKeyFile = this.privateFile(name);
    const hasPrivate = existsSync(privateKeyFile);
    if (!hasPrivate && !existsSync(publicKeyFile)) {
      throw new CliError(`no key named ${name} in ${this.dir} (see: otter keys list)`);
    }
    let key: PublicSigningKey;
    try {
      key = hasPrivate
        ? parsePrivateKey(readFileSync(privateKeyFile, 'utf8'))
        : parsePublicKey(readFileSync(publicKeyFile, 'utf8'));
    } catch (e) {
      throw asCliError(hasPrivate ? privateKeyFile : publicKeyFile, e);
    }
    const { algorithm, keyId, publicKeyPem } = key;
    return { name, algorithm, keyId, publicKeyPem, publicKeyFile, ...(hasPrivate ? { privateKeyFile } : {}) };
  }

  /** The private key PEM of a key that can sign. */
  privateKeyPem(name: string): string {
    const key = this.load(name);
    if (key.privateKeyFile === undefined) {
      throw new CliError(`key ${name} is a public key only (imported with --public); it cannot sign`);
    }
    return readFileSync(key.privateKeyFile, 'utf8');
  }

  /** Every key by name; a key whose files cannot be read is listed with its error. */
  list(): (LocalKey | { name: string; error: string })[] {
    if (!existsSync(this.dir)) return [];
    const names = new Set<string>();
    for (const file of readdirSync(this.dir)) {
      const m = /^(.+)\.(key|pub)\.pem$/.exec(file);
      if (m && KEY_NAME.test(m[1]!)) names.add(m[1]!);
    }
    return [...names]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => {
        try {
          return this.load(name);
        } catch (e) {
          return { name, error: (e as Error).message };
        }
      });
  }
}

/** Reads a key file given on the command line: a private key, or with `publicOnly` a public one. */
export function readKeyFile(file: string, publicOnly: boolean): PrivateSigningKey | PublicSigningKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return publicOnly ? parsePublicKey(text) : parsePrivateKey(text);
  } catch (e) {
    if (!publicOnly && isSigningError(e) && e.code === 'WRONG_KEY_KIND' && text.includes('PUBLIC KEY')) {
      throw new CliError(`${file} holds a public key; add --public to trust it for verification only`);
    }
    throw asCliError(file, e);
  }
}
