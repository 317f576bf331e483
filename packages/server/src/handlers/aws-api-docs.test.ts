import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ManualClock } from '@otter/core';
import type { RegistryStore } from '../store/index.js';
import { createAwsHandlers } from './index.js';

test('docs/aws-api.md lists exactly the operations the server serves', () => {
  const doc = readFileSync(new URL('../../../../docs/aws-api.md', import.meta.url), 'utf8');
  const handlers = createAwsHandlers({ store: {} as RegistryStore, clock: new ManualClock() });
  for (const [service, ops] of Object.entries(handlers)) {
    const section = doc.split(`## \`${service}\``)[1]?.split('\n## ')[0] ?? '';
    const documented = [...section.matchAll(/`([A-Z][A-Za-z]+)`/g)].map((m) => m[1]).sort();
    assert.deepEqual(documented, Object.keys(ops ?? {}).sort(), `section ${service}`);
  }
});
