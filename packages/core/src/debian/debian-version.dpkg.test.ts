/**
 * Differential test against dpkg itself: compareDebianVersions must agree with
 * `dpkg --compare-versions` on dpkg's tricky cases and on ≥ 5,000 generated pairs, and whatever
 * parseDebianVersion accepts dpkg must accept without a warning. All dpkg calls of a run go through
 * one generated sh script (one fork per pair, one question per pair: the relation we predict), so
 * the suite takes seconds. Skipped, saying so, when dpkg is missing. OTTER_TEST_DPKG_SEED replays.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TRICKY_CASES } from './debian-version.fixtures.js';
import { compareDebianVersions, isDebianVersion } from './debian-version.js';

const DPKG = ['/usr/bin/dpkg', '/bin/dpkg', '/usr/local/bin/dpkg'].find((p) => existsSync(p));
const skip = DPKG ? false : 'skipped: dpkg not found (/usr/bin/dpkg); the unit tests still run';
if (!DPKG) console.log(`dpkg differential test ${skip}`);

const GENERATED_PAIRS = 5000;
const seed = Number(process.env.OTTER_TEST_DPKG_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(s: number) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const chars = (alphabet: string, min: number, max: number) => {
  let s = '';
  const n = min + Math.floor(random() * (max - min + 1));
  for (let i = 0; i < n; i++) s += pick(alphabet.split(''));
  return s;
};

/** A random valid version with the pieces dpkg orders specially: ~, letters, leading zeros, +, -. */
function version(): string {
  const epoch = random() < 0.25 ? `${pick(['0', '1', '2', '00', '10'])}:` : '';
  const upstream = pick(['0', '1', '2', '9', '10', '01']) + chars('0123456789..~~++-aAzZ', 0, 7);
  const revision = random() < 0.6 ? `-${chars('0123456789.~+aZ', 1, 5)}` : '';
  const v = `${epoch}${upstream}${revision}`;
  return isDebianVersion(v) ? v : version();
}

/** A small edit of `v`, so many pairs are equal or nearly so. */
function neighbour(v: string): string {
  const edits = [
    () => `${v}-0`,
    () => `0:${v}`,
    () => `${v}~`,
    () => `${v}a`,
    () => `${v}.0`,
    () => `${v}+1`,
    () => v.replace(/\d+/, (d) => `0${d}`),
    () => v.replace(/\d+$/, (d) => String(Number(d) + 1)),
    () => v.replace(/~/, ''),
    () => v.replace(/[a-z]/i, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())),
  ];
  const w = pick(edits)();
  return isDebianVersion(w) ? w : version();
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const RELATION = { '-1': 'lt', '0': 'eq', '1': 'gt' } as const;

/** Runs one sh script asking dpkg one question per pair; returns the pairs dpkg disagreed on. */
function disagreements(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const lines = pairs.map(([a, b], i) => {
    const rel = RELATION[String(compareDebianVersions(a, b)) as '-1' | '0' | '1'];
    return `${DPKG} --compare-versions ${quote(a)} ${rel} ${quote(b)} || echo ${i}`;
  });
  writeFileSync(join(dir, 'pairs.sh'), `${lines.join('\n')}\n`);
  const out = execFileSync('/bin/sh', [join(dir, 'pairs.sh')], { maxBuffer: 64 << 20 }).toString();
  return out
    .split('\n')
    .filter(Boolean)
    .map((i) => {
      const [a, b] = pairs[Number(i)]!;
      const truth = ['lt', 'eq', 'gt'].find((r) => {
        try {
          execFileSync(DPKG!, ['--compare-versions', a, r, b], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      });
      return `${a} vs ${b}: Otter says ${RELATION[String(compareDebianVersions(a, b)) as '0']}, dpkg says ${truth}`;
    });
}

const dir = mkdtempSync(join(tmpdir(), 'otter-dpkg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Debian versions agree with dpkg --compare-versions', { skip }, () => {
  it("dpkg's tricky cases", () => {
    assert.deepEqual(disagreements(TRICKY_CASES.map(([a, b]) => [a, b] as const)), []);
  });

  it(`${GENERATED_PAIRS} generated pairs (seed ${seed})`, () => {
    const pairs: Array<readonly [string, string]> = [];
    while (pairs.length < GENERATED_PAIRS) {
      const a = version();
      pairs.push([a, random() < 0.5 ? neighbour(a) : version()]);
    }
    const equal = pairs.filter(([a, b]) => compareDebianVersions(a, b) === 0).length;
    assert.ok(equal > GENERATED_PAIRS / 20, `enough equal pairs to matter (${equal})`);
    assert.deepEqual(disagreements(pairs), [], `replay with OTTER_TEST_DPKG_SEED=${seed}`);
  });

  it('whatever Otter accepts, dpkg accepts without a warning', () => {
    const candidates = Array.from({ length: 400 }, () => chars('0123456789:.-+~aZ_ !*', 1, 8));
    const accepted = [...new Set(candidates.filter(isDebianVersion))];
    const script = accepted.map(
      (v, i) => `${DPKG} --compare-versions ${quote(v)} eq ${quote(v)} 2>&1 | grep -q . && echo ${i}`,
    );
    writeFileSync(join(dir, 'valid.sh'), `${script.join('\n')}\ntrue\n`);
    const out = execFileSync('/bin/sh', [join(dir, 'valid.sh')]).toString();
    const complaints = out
      .split('\n')
      .filter(Boolean)
      .map((i) => accepted[Number(i)]);
    assert.deepEqual(complaints, [], `seed ${seed}`);
    assert.ok(accepted.length > 10, `enough valid candidates (${accepted.length})`);
  });
});
