import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { deviceMayPublish, deviceMaySubscribe, topicMatches } from './topic-access.js';

const thingName = fc.stringMatching(/^[a-zA-Z0-9:_-]{1,20}$/);
const level = fc.oneof(
  fc.constantFrom('+', '#', '', '$share', 'shadow', 'jobs', '$aws', 'things'),
  thingName,
);
const topic = fc.array(level, { minLength: 1, maxLength: 7 }).map((l) => l.join('/'));

test('a device never reaches a topic of another thing, whatever filter it asks for', () => {
  fc.assert(
    fc.property(thingName, thingName, topic, fc.array(level, { maxLength: 3 }), (me, other, filter, rest) => {
      const otherTopic = [`$aws/things/${other}`, ...rest.map((l) => l.replace(/[+#]/g, 'x') || 'x')].join(
        '/',
      );
      if (me !== other && deviceMaySubscribe(me, filter))
        assert.equal(topicMatches(filter, otherTopic), false);
      if (deviceMayPublish(me, filter)) assert.ok(filter.startsWith(`$aws/things/${me}/`));
    }),
    { numRuns: 5000 },
  );
});

test('wildcards and shared subscriptions that could reach other things are refused', () => {
  for (const f of [
    '#',
    '+/#',
    '$aws/#',
    '$aws/things/#',
    '$aws/things/+/shadow/#',
    `$share/g/$aws/things/me/#`,
    '$aws/things/me',
    '$aws/things/me/',
    '$aws/things/me/a#',
    '$aws/things/me/#/x',
  ])
    assert.equal(deviceMaySubscribe('me', f), false, f);
  for (const f of ['$aws/things/me/#', '$aws/things/me/shadow/+/accepted', '$aws/things/me/jobs/notify-next'])
    assert.equal(deviceMaySubscribe('me', f), true, f);
  assert.equal(deviceMayPublish('me', '$aws/things/me/shadow/update'), true);
  assert.equal(deviceMayPublish('me', '$aws/things/me/shadow/+'), false);
  assert.equal(deviceMayPublish('me', '$aws/things/other/shadow/update'), false);
  assert.equal(deviceMayPublish('a/b', '$aws/things/a/b/shadow/update'), false);
});

test('topicMatches follows MQTT 4.7', () => {
  assert.ok(topicMatches('a/#', 'a'));
  assert.ok(topicMatches('a/+/c', 'a/b/c'));
  assert.ok(!topicMatches('a/+', 'a/b/c'));
  assert.ok(!topicMatches('#', '$aws/x'));
  assert.ok(topicMatches('$aws/things/t/#', '$aws/things/t/shadow/get'));
});
