/**
 * The apt handler for real: tiny .deb packages built with dpkg-deb (otter-test-*, files under
 * /opt/otter-test/), a local flat repository, a private apt state (sources, lists, cache) so the
 * machine's own apt lists are untouched, and real apt-get / dpkg-query runs as root. Enabled by
 * OTTER_TEST_APT=1 (.ci/run sets it); otter-test-* packages are purged before and after, even on failure.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAptHandler } from './apt.js';
import { createExec } from './exec.js';
import type { HandlerContext } from './handler.js';

const has = (cmd: string) => ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => existsSync(join(d, cmd)));
const skip =
  process.env.OTTER_TEST_APT !== '1'
    ? 'skipped: set OTTER_TEST_APT=1 to run apt-get for real (installs otter-test-* packages; root)'
    : !has('apt-get') || !has('dpkg-deb') || process.getuid?.() !== 0
      ? 'skipped: needs apt-get, dpkg-deb and root'
      : false;
if (skip) console.log(`apt real test ${skip}`);

const PACKAGES = ['otter-test-a', 'otter-test-b', 'otter-test-c'];
const dir = mkdtempSync(join(tmpdir(), 'otter-apt-'));
const repo = join(dir, 'repo');

function purge() {
  try {
    execFileSync('dpkg', ['--purge', ...PACKAGES], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    // some were not installed
  }
  rmSync('/opt/otter-test', { recursive: true, force: true });
}

/** Builds name_version.deb installing /opt/otter-test/<name> containing the version. */
function buildDeb(name: string, version: string, postinst?: string) {
  const root = join(dir, 'build', `${name}_${version}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'opt/otter-test'), { recursive: true });
  writeFileSync(join(root, 'opt/otter-test', name), `${version}\n`);
  writeFileSync(
    join(root, 'DEBIAN/control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: Otter tests <otter@example.invalid>\nPriority: optional\nSection: misc\nDescription: Otter apt handler test package\n`,
  );
  if (postinst) writeFileSync(join(root, 'DEBIAN/postinst'), `#!/bin/sh\n${postinst}\n`, { mode: 0o755 });
  execFileSync(
    'dpkg-deb',
    ['--root-owner-group', '-Zgzip', '-z1', '--build', root, join(repo, `${name}_${version}_all.deb`)],
    {
      stdio: 'ignore',
    },
  );
}

/** A flat `Packages` index: dpkg-scanpackages (dpkg-dev) when present, else (or with OTTER_TEST_APT_HAND_INDEX=1) by hand. */
function writeIndex(debs: string[]) {
  if (has('dpkg-scanpackages') && process.env.OTTER_TEST_APT_HAND_INDEX !== '1') {
    const out = execFileSync('dpkg-scanpackages', ['-m', '.', '/dev/null'], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    writeFileSync(join(repo, 'Packages'), out);
    return;
  }
  const stanzas = debs.map((deb) => {
    const bytes = readFileSync(join(repo, deb));
    const control = execFileSync('dpkg-deb', ['-f', join(repo, deb)])
      .toString()
      .trimEnd();
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return `${control}\nFilename: ./${deb}\nSize: ${bytes.length}\nSHA256: ${sha256}\n`;
  });
  writeFileSync(join(repo, 'Packages'), `${stanzas.join('\n')}`);
}

const installed = (name: string): string | undefined => {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${db:Status-Status} ${Version}', name], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .split(' ');
    return out[0] === 'installed' ? out[1] : undefined;
  } catch {
    return undefined;
  }
};
const fileOf = (name: string) =>
  existsSync(`/opt/otter-test/${name}`) ? readFileSync(`/opt/otter-test/${name}`, 'utf8').trim() : undefined;

const handler = createAptHandler({
  aptOptions: [
    '-o',
    `Dir::Etc::sourcelist=${join(dir, 'sources.list')}`,
    '-o',
    'Dir::Etc::sourceparts=-',
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(dir, 'cache')}`,
    '-o',
    'APT::Sandbox::User=root',
    '-o',
    'Acquire::Languages=none',
  ],
  timeoutMs: 60_000,
  lockTimeoutSec: 30,
});

const logs: string[] = [];
const ctx = (manifest: unknown): HandlerContext => ({
  workDir: dir,
  files: [],
  params: { manifest },
  logger: {
    debug: () => {},
    info: (m) => logs.push(m),
    warn: (m) => logs.push(`WARN ${m}`),
    error: (m) => logs.push(`ERROR ${m}`),
  },
  signal: new AbortController().signal,
  exec: createExec(),
});
const manifest = (version: string, packages: unknown[]) => ({ name: 'otter-apt-test', version, packages });

describe('apt handler against a real local repository', { skip, timeout: 120_000 }, () => {
  before(() => {
    purge();
    mkdirSync(repo, { recursive: true });
    mkdirSync(join(dir, 'lists/partial'), { recursive: true });
    mkdirSync(join(dir, 'cache/archives/partial'), { recursive: true });
    buildDeb('otter-test-a', '1.0-1');
    buildDeb('otter-test-a', '2.0-1');
    buildDeb('otter-test-b', '1.0.8-0');
    buildDeb('otter-test-c', '1.0');
    buildDeb('otter-test-c', '2.0', 'echo "otter-test-c 2.0: failing on purpose" >&2; exit 1');
    writeIndex(
      execFileSync('ls', [repo])
        .toString()
        .split('\n')
        .filter((f) => f.endsWith('.deb')),
    );
    writeFileSync(join(dir, 'sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  });
  after(() => {
    purge();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs in listed order; 1.0.8 resolves to the repository’s 1.0.8-0', async () => {
    const c = ctx(
      manifest('1', [
        { name: 'otter-test-a', version: '1.0-1' },
        { name: 'otter-test-b', version: '1.0.8' },
      ]),
    );
    assert.equal(await handler.isInstalled!(c), false);
    const r = await handler.install(c);
    assert.equal(r.status, 'SUCCEEDED', JSON.stringify(r));
    assert.equal(r.installedCriteria, 'otter-apt-test-1');
    assert.deepEqual(r.installed, { 'otter-test-a': '1.0-1', 'otter-test-b': '1.0.8-0' });
    assert.equal(fileOf('otter-test-a'), '1.0-1');
    assert.equal(await handler.isInstalled!(c), true);
  });

  it('upgrades and installs a new package', async () => {
    const r = await handler.install(
      ctx(
        manifest('2', [
          { name: 'otter-test-a', version: '2.0-1' },
          { name: 'otter-test-b', version: '1.0.8-0' },
          { name: 'otter-test-c', version: '1.0' },
        ]),
      ),
    );
    assert.equal(r.status, 'SUCCEEDED', JSON.stringify(r));
    assert.equal(installed('otter-test-a'), '2.0-1');
    assert.equal(fileOf('otter-test-a'), '2.0-1');
    assert.equal(installed('otter-test-c'), '1.0');
  });

  it('downgrades', async () => {
    const r = await handler.install(ctx(manifest('3', [{ name: 'otter-test-a', version: '1.0-1' }])));
    assert.equal(r.status, 'SUCCEEDED', JSON.stringify(r));
    assert.equal(installed('otter-test-a'), '1.0-1');
  });

  it('removes a package listed as name-', async () => {
    const r = await handler.install(ctx(manifest('4', [{ name: 'otter-test-b-' }])));
    assert.equal(r.status, 'SUCCEEDED', JSON.stringify(r));
    assert.equal(installed('otter-test-b'), undefined);
    assert.equal(fileOf('otter-test-b'), undefined);
  });

  it('fails on a version the repository does not have, changing nothing', async () => {
    const r = await handler.install(
      ctx(
        manifest('5', [
          { name: 'otter-test-a', version: '2.0-1' },
          { name: 'otter-test-c', version: '9.9' },
        ]),
      ),
    );
    assert.equal(r.status, 'FAILED');
    assert.equal(r.reasonCode, 'VERSION_NOT_AVAILABLE');
    assert.match(r.reason ?? '', /otter-test-c 9\.9 is not available \(repository has: .*2\.0.*\)/);
    assert.equal(installed('otter-test-a'), '1.0-1');
    assert.equal(installed('otter-test-c'), '1.0');
  });

  it('rolls back to the recorded versions when apt-get fails half-way (a failing postinst)', async () => {
    const r = await handler.install(
      ctx(
        manifest('6', [
          { name: 'otter-test-a', version: '2.0-1' },
          { name: 'otter-test-c', version: '2.0' },
        ]),
      ),
    );
    assert.equal(r.status, 'FAILED', JSON.stringify(r));
    assert.equal(r.reasonCode, 'APT_INSTALL_FAILED');
    assert.match(r.details?.stderr ?? '', /otter-test-c|dpkg/);
    assert.equal(r.details?.rollback, 'restored', JSON.stringify(r));
    assert.equal(installed('otter-test-a'), '1.0-1');
    assert.equal(installed('otter-test-c'), '1.0');
    assert.equal(fileOf('otter-test-c'), '1.0');
  });

  it('rejects a manifest with duplicate packages without running apt', async () => {
    const r = await handler.install(
      ctx(manifest('7', [{ name: 'otter-test-a', version: '2.0-1' }, { name: 'otter-test-a-' }])),
    );
    assert.equal(r.status, 'REJECTED');
    assert.equal(r.reasonCode, 'DUPLICATE_PACKAGE');
    assert.equal(installed('otter-test-a'), '1.0-1');
  });
});
