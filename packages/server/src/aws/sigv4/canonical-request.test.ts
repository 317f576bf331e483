import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { getCanonicalQuery, SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import fc from 'fast-check';
import {
  canonicalHeaders,
  canonicalPath,
  canonicalQueries,
  parseQuery,
  percentDecode,
  uriEncode,
} from './canonical-request.js';
import { SigningKeyCache } from './signing-key-cache.js';
import { escapeUri, wireQuery } from './sigv4-test-support.js';

/** Exposes the SDK signer's canonical URI (line 2 of its canonical request). */
class SdkCanonical extends SignatureV4 {
  constructor() {
    super({
      credentials: { accessKeyId: 'a', secretAccessKey: 's' },
      region: 'r',
      service: 'iot',
      sha256: Sha256,
    });
  }
  path(path: string): string {
    const request: HttpRequest = {
      method: 'GET',
      protocol: 'https:',
      hostname: 'h',
      path,
      query: {},
      headers: {},
    };
    return this.createCanonicalRequest(request, {}, '').split('\n')[1]!;
  }
}
const sdk = new SdkCanonical();

describe('canonicalPath', () => {
  test('double-encodes the wire path and normalises segments', () => {
    const cases: Array<[string, string]> = [
      ['/', '/'],
      ['/things/a%3Ab', '/things/a%253Ab'],
      ['/things/%24package/shadow', '/things/%2524package/shadow'],
      ['/things/$package', '/things/%24package'],
      ['/a/./b/../c//d/', '/a/c/d/'],
      ['/..', '/'],
      ['//', '/'],
      ['/-._~AZaz09', '/-._~AZaz09'],
      ['/\u1234', '/%E1%88%B4'],
    ];
    for (const [wire, canonical] of cases) assert.equal(canonicalPath(wire), canonical, wire);
  });

  test('agrees with @smithy/signature-v4 (uriEscapePath: true) on arbitrary wire paths', () => {
    const unit = fc.oneof(
      fc.constantFrom('/', '.', '%', '2', 'F', 'a', '$', ' ', '+', '~', 'ü'),
      fc.string(),
    );
    fc.assert(
      fc.property(
        fc.array(unit, { maxLength: 16 }),
        fc.string({ unit: 'binary', maxLength: 6 }),
        (parts, tail) => {
          const path = `/${parts.join('')}${tail}`;
          assert.equal(canonicalPath(path), sdk.path(path));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('canonical query', () => {
  test('sorts by name, then value, not as name=value strings', () => {
    assert.deepEqual(canonicalQueries(parseQuery('a-b=1&a=2&a=1&b')), ['a=1&a=2&a-b=1&b=']);
  });

  test('re-encodes per RFC 3986 and offers the as-sent form when it differs', () => {
    assert.deepEqual(canonicalQueries(parseQuery('k=a+b&n=abc%2fdef==&z=%7e')), [
      'k=a%2Bb&n=abc%2Fdef%3D%3D&z=~',
      'k=a+b&n=abc%2fdef==&z=%7e',
    ]);
  });

  test('leaves X-Amz-Signature out', () => {
    assert.deepEqual(canonicalQueries(parseQuery('X-Amz-Signature=ab&x-amz-signature=cd&a=1')), ['a=1']);
  });

  test('agrees with @smithy/signature-v4 getCanonicalQuery on what the SDK puts on the wire', () => {
    const text = fc.string({ unit: 'binary', maxLength: 8 });
    const query = fc.dictionary(
      text.filter((name) => name !== '__proto__'),
      fc.oneof(text, fc.array(text, { maxLength: 3 })),
      {
        maxKeys: 5,
      },
    );
    fc.assert(
      fc.property(query, (q) => {
        // The SDK drops parameters with no value at all; so does its wire format.
        assert.equal(
          canonicalQueries(parseQuery(wireQuery(q)))[0],
          getCanonicalQuery({ query: q } as HttpRequest),
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('percent decoding', () => {
  test('never throws, keeps stray % literally, and re-encodes raw bytes', () => {
    assert.equal(uriEncode(percentDecode('%').toString('latin1')), '%25');
    assert.equal(percentDecode('%zz%4').toString('utf8'), '%zz%4');
    assert.equal(percentDecode('%C3%BC%41').toString('utf8'), 'üA');
    assert.deepEqual(parseQuery('k=%FF%C3'), [
      {
        name: 'k',
        value: '\ufffd\ufffd',
        encodedName: 'k',
        encodedValue: '%FF%C3',
        rawName: 'k',
        rawValue: '%FF%C3',
      },
    ]);
  });

  test('decode then encode is idempotent and matches the SDK escaping of the decoded text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const encoded = escapeUri(text);
        assert.equal(uriEncode(text), encoded);
        assert.equal(parseQuery(`k=${encoded}`)[0]?.encodedValue, encoded);
      }),
    );
  });
});

test('canonicalHeaders trims, collapses spaces and joins repeated values', () => {
  const headers = { host: 'h:1', 'x-a': '  a   b \t c ', 'x-b': ['1', ' 2  3 '] };
  assert.equal(
    canonicalHeaders(headers, ['host', 'x-a', 'x-b', 'x-absent']),
    'host:h:1\nx-a:a b c\nx-b:1,2 3\nx-absent:\n',
  );
});

test('SigningKeyCache keeps the most recently used keys', () => {
  const cache = new SigningKeyCache(2);
  cache.set('a', Buffer.from('A'));
  cache.set('b', Buffer.from('B'));
  assert.ok(cache.get('a'));
  cache.set('c', Buffer.from('C'));
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b'), undefined);
  assert.deepEqual([cache.get('a'), cache.get('c')].map(String), ['A', 'C']);
});
