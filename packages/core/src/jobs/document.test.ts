// biome-ignore-all lint/suspicious/noTemplateCurlyInString: job-document placeholders look like template placeholders on purpose
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtterError } from '../errors.js';
import {
  checkDestinationPackageVersions,
  checkDocumentParameters,
  referencedPackageVersions,
  resolveDocument,
} from './document.js';

const invalid = (e: unknown) => e instanceof OtterError && e.type === 'InvalidRequestException';
const ATTRS: Record<string, string> = {
  s3URL: 'https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile',
  signature: 'aaaaabbbbbcccccdddddeeeeefffffggggghhhhhiiiiijjjj',
  tricky: 'say "hi"\\ \n done',
};
const attribute = async (p: string, v: string, a: string) =>
  p === 'samplePackage1' && v === '2.1.5' ? ATTRS[a] : undefined;

// Seed 000's example, with its stray commas corrected so it is JSON.
const SEED = `{"Steps": {"uninstall": ["samplePackage"],
 "download": [{"samplePackage": "\${aws:iot:package:samplePackage1:version:2.1.5:attributes:s3URL}"}],
 "signature": [{"samplePackage": "\${aws:iot:package:samplePackage1:version:2.1.5:attributes:signature}"}]}}`;

describe('job document substitution', () => {
  it('resolves seed 000 package attributes', async () => {
    const out = JSON.parse(await resolveDocument(SEED, { attribute }));
    assert.equal(out.Steps.download[0].samplePackage, ATTRS.s3URL);
    assert.equal(out.Steps.signature[0].samplePackage, ATTRS.signature);
  });
  it('lists referenced package versions once each and names missing destinations', () => {
    assert.deepEqual(referencedPackageVersions(SEED), [
      { packageName: 'samplePackage1', versionName: '2.1.5' },
    ]);
    checkDestinationPackageVersions(SEED, [
      'arn:aws:iot:us-east-1:123456789012:package/samplePackage1/version/2.1.5',
    ]);
    assert.throws(
      () =>
        checkDestinationPackageVersions(`${SEED} \${aws:iot:package:other:version:1.0:attributes:x}`, [
          { packageName: 'samplePackage1', versionName: '2.1.5' },
        ]),
      (e: unknown) =>
        invalid(e) &&
        (e as Error).message.includes('other:1.0') &&
        !(e as Error).message.includes('samplePackage1'),
    );
  });
  it('JSON-escapes values inside strings and quotes them outside, so the document stays valid JSON', async () => {
    const doc =
      '{"a": "x ${aws:iot:package:samplePackage1:version:2.1.5:attributes:tricky} y", "b": ${aws:iot:package:samplePackage1:version:2.1.5:attributes:tricky}, "c": "\\"${aws:iot:parameter:p}"}';
    const out = JSON.parse(await resolveDocument(doc, { attribute, parameters: { p: '"},{' } }));
    assert.equal(out.a, `x ${ATTRS.tricky} y`);
    assert.equal(out.b, ATTRS.tricky);
    assert.equal(out.c, '""},{');
  });
  it('resolves presigned URL placeholders through the callback', async () => {
    const doc = '{"url": "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/key}"}';
    const out = JSON.parse(await resolveDocument(doc, { presign: async (u) => `${u}?X-Sig=1&b=2` }));
    assert.equal(out.url, 'https://s3.amazonaws.com/bucket/key?X-Sig=1&b=2');
  });
  it('unknown attributes, malformed placeholders and oversize documents are typed errors', async () => {
    await assert.rejects(
      resolveDocument('"${aws:iot:package:samplePackage1:version:2.1.5:attributes:nope}"', { attribute }),
      (e: unknown) => invalid(e) && (e as Error).message.includes("'nope'"),
    );
    await assert.rejects(resolveDocument('"${aws:iot:package:a b:version:1}"', { attribute }), invalid);
    await assert.rejects(resolveDocument('"${aws:iot:package:x', { attribute }), invalid);
    await assert.rejects(resolveDocument('"${aws:iot:s3-presigned-url:https://x/y}"', {}), invalid);
    await assert.rejects(resolveDocument(`"${'é'.repeat(16385)}"`, {}), invalid); // 32772 bytes
    assert.equal(await resolveDocument(`"${'a'.repeat(32766)}"`, {}), `"${'a'.repeat(32766)}"`);
    await assert.rejects(
      resolveDocument(`"${'a'.repeat(32700)}\${aws:iot:parameter:p}"`, {
        parameters: { p: 'b'.repeat(100) },
      }),
      (e: unknown) => invalid(e) && (e as Error).message.includes('resolved'),
    );
    assert.equal(await resolveDocument('{"keep": "${other:thing}"}', {}), '{"keep": "${other:thing}"}');
  });
  it('checks template document parameters', () => {
    const specs = [
      { key: 'url', regex: 'https://.+' },
      { key: 'note', optional: true },
    ];
    assert.deepEqual(checkDocumentParameters(specs, { url: 'https://a/b' }), {
      url: 'https://a/b',
      note: '',
    });
    for (const bad of [
      {},
      { url: 'ftp://a' },
      { url: 'https://a', extra: 'x' },
      { url: '' },
      { url: 'https://a\u0007' },
    ]) {
      assert.throws(() => checkDocumentParameters(specs, bad), invalid, JSON.stringify(bad));
    }
  });
});
