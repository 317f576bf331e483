import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aptInstalledCriteria, parseAptManifest } from './apt-manifest.js';
import { type DebianErrorCode, isDebianError } from './debian-errors.js';

describe('parseAptManifest', () => {
  it("parses the seed's example, keeping the listed order", () => {
    const m = parseAptManifest(`{
      "name": "contoso-iot-edge",
      "version": "1.0.0.0",
      "packages": [
        { "name" : "thermocontrol", "version" : "1.0.1" },
        { "name" : "tempreport", "version" : "2.0.0" },
        { "name" : "foo-" },
        { "name" : "libstdc++6" }
      ]
    }`);
    assert.deepEqual(m, {
      name: 'contoso-iot-edge',
      version: '1.0.0.0',
      packages: [
        { name: 'thermocontrol', version: '1.0.1', remove: false },
        { name: 'tempreport', version: '2.0.0', remove: false },
        { name: 'foo', remove: true },
        { name: 'libstdc++6', remove: false },
      ],
    });
    assert.equal(aptInstalledCriteria(m), 'contoso-iot-edge-1.0.0.0');
  });

  it('accepts an already parsed value and full Debian versions', () => {
    const m = parseAptManifest({
      name: 'x',
      version: '2',
      packages: [{ name: 'iotedge', version: '1:1.0.8-2~bpo1' }],
    });
    assert.equal(m.packages[0]?.version, '1:1.0.8-2~bpo1');
  });

  const bad: Array<[string, unknown, DebianErrorCode, string]> = [
    ['not JSON', '{"name": "x",', 'INVALID_JSON', ''],
    ['an array', '[]', 'NOT_AN_OBJECT', ''],
    ['no name', { version: '1', packages: [{ name: 'ab' }] }, 'MISSING_MEMBER', 'name'],
    ['a numeric version', { name: 'x', version: 1, packages: [{ name: 'ab' }] }, 'WRONG_TYPE', 'version'],
    [
      'a name with a space',
      { name: 'a b', version: '1', packages: [{ name: 'ab' }] },
      'INVALID_MANIFEST_NAME',
      'name',
    ],
    [
      'an empty version',
      { name: 'x', version: '', packages: [{ name: 'ab' }] },
      'INVALID_MANIFEST_VERSION',
      'version',
    ],
    [
      'an unknown member',
      { name: 'x', version: '1', packages: [], updateType: 'apt' },
      'UNKNOWN_MEMBER',
      '(manifest)',
    ],
    ['no packages member', { name: 'x', version: '1' }, 'MISSING_MEMBER', 'packages'],
    ['packages not a list', { name: 'x', version: '1', packages: {} }, 'WRONG_TYPE', 'packages'],
    ['no packages', { name: 'x', version: '1', packages: [] }, 'NO_PACKAGES', 'packages'],
    [
      'a package that is a string',
      { name: 'x', version: '1', packages: ['foo'] },
      'NOT_AN_OBJECT',
      'packages[0]',
    ],
    [
      'a package member typo',
      { name: 'x', version: '1', packages: [{ name: 'ab', verison: '1' }] },
      'UNKNOWN_MEMBER',
      'packages[0]',
    ],
    [
      'a package without name',
      { name: 'x', version: '1', packages: [{ version: '1' }] },
      'MISSING_MEMBER',
      'packages[0].name',
    ],
    [
      'an upper-case package name',
      { name: 'x', version: '1', packages: [{ name: 'Foo' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      'a one-letter package name',
      { name: 'x', version: '1', packages: [{ name: 'a' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      'a package name with _',
      { name: 'x', version: '1', packages: [{ name: 'foo_bar' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      'a package name starting with -',
      { name: 'x', version: '1', packages: [{ name: '-foo' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      'a bare "-"',
      { name: 'x', version: '1', packages: [{ name: '-' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      '"foo--"',
      { name: 'x', version: '1', packages: [{ name: 'foo--' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      'a package name with an arch',
      { name: 'x', version: '1', packages: [{ name: 'foo:amd64' }] },
      'INVALID_PACKAGE_NAME',
      'packages[0].name',
    ],
    [
      'a version with =',
      { name: 'x', version: '1', packages: [{ name: 'foo', version: '=1.0' }] },
      'VERSION_HAS_EQUALS',
      'packages[0].version',
    ],
    [
      'a version with >=',
      { name: 'x', version: '1', packages: [{ name: 'foo', version: '>=1.0' }] },
      'VERSION_HAS_EQUALS',
      'packages[0].version',
    ],
    [
      'a version range',
      { name: 'x', version: '1', packages: [{ name: 'foo', version: '1.0*' }] },
      'INVALID_VERSION',
      'packages[0].version',
    ],
    [
      'a version not starting with a digit',
      { name: 'x', version: '1', packages: [{ name: 'foo', version: 'v1.0' }] },
      'INVALID_VERSION',
      'packages[0].version',
    ],
    [
      'an empty revision',
      { name: 'x', version: '1', packages: [{ name: 'foo', version: '1.0-' }] },
      'INVALID_VERSION',
      'packages[0].version',
    ],
    [
      'a numeric package version',
      { name: 'x', version: '1', packages: [{ name: 'foo', version: 1 }] },
      'WRONG_TYPE',
      'packages[0].version',
    ],
    [
      'a removal with a version',
      { name: 'x', version: '1', packages: [{ name: 'foo-', version: '1.0' }] },
      'REMOVE_WITH_VERSION',
      'packages[0].version',
    ],
    [
      'a duplicate package',
      {
        name: 'x',
        version: '1',
        packages: [{ name: 'foo', version: '1' }, { name: 'bar' }, { name: 'foo', version: '2' }],
      },
      'DUPLICATE_PACKAGE',
      'packages[2].name',
    ],
    [
      'install and remove of one package',
      { name: 'x', version: '1', packages: [{ name: 'foo' }, { name: 'foo-' }] },
      'DUPLICATE_PACKAGE',
      'packages[1].name',
    ],
    [
      'too many packages',
      { name: 'x', version: '1', packages: Array.from({ length: 1001 }, (_, i) => ({ name: `p${i}` })) },
      'TOO_MANY_PACKAGES',
      'packages',
    ],
  ];
  for (const [what, input, code, path] of bad) {
    it(`rejects ${what} with ${code}`, () => {
      assert.throws(
        () => parseAptManifest(input),
        (e) =>
          isDebianError(e) &&
          e.code === code &&
          e.path === path &&
          e.type === 'InvalidRequestException' &&
          e.fields.reasonCode === code,
      );
    });
  }
});
