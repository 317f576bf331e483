/**
 * Differential test against openssl as the independent reference: keys made by openssl sign with
 * openssl and verify in Otter, and the other way round. Skipped (saying so) when openssl is absent;
 * openssl-vectors.json keeps a fixed set of its outputs for that case.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { signDigest, verifyDigestSignature } from './digest-signatures.js';
import { parsePrivateKey } from './signing-keys.js';

const OPENSSL = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));
const skip = OPENSSL
  ? false
  : 'skipped: openssl not found (/usr/bin/openssl); the committed vectors still run';
if (!OPENSSL) console.log(`openssl differential test ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'otter-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const path = (name: string) => join(dir, name);

/** Runs openssl; returns stdout. `ok` instead of throwing for the verify commands. */
function openssl(args: string[], input?: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync(OPENSSL!, args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
    return { ok: true, out };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: Buffer }).stderr ?? e) };
  }
}

function opensslKey(kind: 'ed25519' | 'p256', name: string): { privatePem: string; publicPem: string } {
  if (kind === 'ed25519') {
    assert.ok(openssl(['genpkey', '-algorithm', 'ed25519', '-out', path(`${name}.pem`)]).ok);
  } else {
    const sec1 = openssl(['ecparam', '-name', 'prime256v1', '-genkey']).out;
    const res = openssl(['pkcs8', '-topk8', '-nocrypt', '-out', path(`${name}.pem`)], sec1);
    assert.ok(res.ok, res.out);
  }
  assert.ok(openssl(['pkey', '-in', path(`${name}.pem`), '-pubout', '-out', path(`${name}.pub`)]).ok);
  return {
    privatePem: readFileSync(path(`${name}.pem`), 'utf8'),
    publicPem: readFileSync(path(`${name}.pub`), 'utf8'),
  };
}

const ROUNDS = 8;

/** Ed25519 signs the digest file; ECDSA signs the file itself, hashing it (`openssl dgst -sha256`). */
function opensslSign(kind: 'ed25519' | 'p256', file: string, out: string) {
  const key = path(`${kind}.pem`);
  return kind === 'ed25519'
    ? openssl(['pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', path('digest.bin'), '-out', out])
    : openssl(['dgst', '-sha256', '-sign', key, '-out', out, file]);
}

function opensslVerify(kind: 'ed25519' | 'p256', file: string, sig: string) {
  const pub = path(`${kind}.pub`);
  return kind === 'ed25519'
    ? openssl([
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        pub,
        '-rawin',
        '-in',
        path('digest.bin'),
        '-sigfile',
        sig,
      ])
    : openssl(['dgst', '-sha256', '-verify', pub, '-signature', sig, file]);
}

describe('openssl ⇄ Otter', { skip }, () => {
  for (const kind of ['ed25519', 'p256'] as const) {
    it(`${kind}: openssl signs, Otter verifies; Otter signs, openssl verifies`, () => {
      const key = opensslKey(kind, kind);
      const algorithm = kind === 'ed25519' ? 'ED25519' : 'ECDSA_P256_SHA256';
      assert.equal(parsePrivateKey(key.privatePem).algorithm, algorithm);
      for (let round = 0; round < ROUNDS; round++) {
        const file = path(`file-${kind}-${round}.bin`);
        const content = randomBytes(1 + round * 997);
        writeFileSync(file, content);
        const digest = createHash('sha256').update(content).digest();
        writeFileSync(path('digest.bin'), digest);

        // openssl signs
        const sigFile = path('openssl.sig');
        const signed = opensslSign(kind, file, sigFile);
        assert.ok(signed.ok, signed.out);
        const signature = readFileSync(sigFile).toString('base64');
        assert.equal(
          verifyDigestSignature({ algorithm, publicKeyPem: key.publicPem, digest, signature }),
          true,
        );

        // Otter signs
        const ours = signDigest(key.privatePem, digest);
        writeFileSync(path('otter.sig'), Buffer.from(ours.signature, 'base64'));
        const verified = opensslVerify(kind, file, path('otter.sig'));
        assert.ok(verified.ok, `openssl rejected Otter's signature: ${verified.out}`);

        // and openssl rejects ours over another file (the reference is not trivially accepting)
        writeFileSync(file, Buffer.concat([content, Buffer.from([0])]));
        const other = createHash('sha256').update(readFileSync(file)).digest();
        writeFileSync(path('digest.bin'), other);
        assert.equal(opensslVerify(kind, file, path('otter.sig')).ok, false);
        const input = { algorithm, publicKeyPem: key.publicPem, signature } as const;
        assert.equal(verifyDigestSignature({ ...input, digest: other }), false);
      }
    });
  }

  it('keyId agrees with openssl: sha256 of the SPKI DER, first 16 bytes', () => {
    const key = opensslKey('p256', 'kid');
    const der = execFileSync(OPENSSL!, ['pkey', '-pubin', '-in', path('kid.pub'), '-outform', 'DER']);
    const expected = createHash('sha256').update(der).digest('hex').slice(0, 32);
    assert.equal(parsePrivateKey(key.privatePem).keyId, expected);
  });
});
