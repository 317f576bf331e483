import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AwsService, loadServiceModel, SERVICE_MODEL_FILES } from './model.js';
import { modelPattern } from './validate.js';

test('every pattern in the served models compiles as a whole-value JS regular expression', () => {
  let n = 0;
  for (const service of Object.keys(SERVICE_MODEL_FILES) as AwsService[]) {
    for (const [name, shape] of Object.entries(loadServiceModel(service).shapes)) {
      if (shape.pattern === undefined) continue;
      assert.doesNotThrow(() => modelPattern(shape.pattern!), `${service} ${name}: ${shape.pattern}`);
      n++;
    }
  }
  assert.ok(n > 100);
});

test('Java POSIX classes translate inside and outside character classes', () => {
  assert.ok(modelPattern('[\\p{Graph}\\x20]*').test('power meter!'));
  assert.ok(!modelPattern('[\\p{Graph}\\x20]*').test('tab\there'));
  assert.ok(modelPattern('\\p{Alnum}+').test('abc123'));
  assert.ok(!modelPattern('[a-zA-Z0-9:_-]+').test('a b'));
});
