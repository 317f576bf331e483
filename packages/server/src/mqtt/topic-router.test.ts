import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJobsReplyTopic } from './jobs-topics.js';
import { type RouteHandler, TopicRouter } from './topic-router.js';

const named = (name: string): RouteHandler & { routeName: string } =>
  Object.assign(async () => {}, { routeName: name });

const routeOf = (r: TopicRouter, topic: string) => {
  const m = r.match(topic);
  return (
    m && {
      name: (m.handler as RouteHandler & { routeName: string }).routeName,
      ...m.params,
      thing: m.thingName,
    }
  );
};

describe('TopicRouter', () => {
  const r = new TopicRouter();
  // The fallback first: order does not matter, a fixed pattern wins.
  r.add('$aws/things/{thingName}/jobs/{rest...}', named('fallback'));
  r.add('$aws/things/{thingName}/jobs/get', named('get'));
  r.add('$aws/things/{thingName}/jobs/{jobId}/update', named('update'));
  r.add('$aws/things/{thingName}/shadow/get', named('shadow'));

  test('fixed patterns win over a {name...} fallback', () => {
    assert.deepEqual(routeOf(r, '$aws/things/t1/jobs/get'), { name: 'get', thing: 't1' });
    assert.deepEqual(routeOf(r, '$aws/things/t1/jobs/j1/update'), {
      name: 'update',
      jobId: 'j1',
      thing: 't1',
    });
    assert.deepEqual(routeOf(r, '$aws/things/t1/shadow/get'), { name: 'shadow', thing: 't1' });
  });

  test('{name...} takes one or more levels, empty ones included', () => {
    assert.deepEqual(routeOf(r, '$aws/things/t1/jobs/get/extra'), {
      name: 'fallback',
      rest: 'get/extra',
      thing: 't1',
    });
    assert.deepEqual(routeOf(r, '$aws/things/t1/jobs/foo'), { name: 'fallback', rest: 'foo', thing: 't1' });
    assert.deepEqual(routeOf(r, '$aws/things/t1/jobs//update'), {
      name: 'fallback',
      rest: '/update',
      thing: 't1',
    });
    assert.equal(r.match('$aws/things/t1/jobs'), undefined, 'at least one level');
    assert.equal(r.match('$aws/things/t1/shadow/foo'), undefined);
    assert.equal(r.match('$aws/things/bad$name/jobs/foo'), undefined, 'the thing name is checked');
  });

  test('filters leave out those a {name...} filter covers; later covered routes are not announced', () => {
    assert.deepEqual(r.filters(), ['$aws/things/+/jobs/#', '$aws/things/+/shadow/get']);
    const heard: string[] = [];
    r.filters((f) => heard.push(f));
    r.add('$aws/things/{thingName}/jobs/start-next', named('start-next'));
    r.add('$aws/things/{thingName}/shadow/update', named('shadow-update'));
    assert.deepEqual(heard, ['$aws/things/+/shadow/update']);
  });

  test('patterns: {name...} only last and never the thing name; no wildcards', () => {
    const t = new TopicRouter();
    assert.throws(() => t.add('$aws/things/{thingName}/{rest...}/x', named('x')), /last level/);
    assert.throws(() => t.add('$aws/things/{thingName...}', named('x')), /no \{thingName\} level|last level/);
    assert.throws(() => t.add('$aws/things/{thingName}/jobs/#', named('x')), /wildcards/);
  });
});

describe('jobs reply topics', () => {
  test('notify, notify-next and anything ending in /accepted or /rejected', () => {
    for (const rest of [
      'notify',
      'notify-next',
      'get/accepted',
      'j/update/rejected',
      'foo/rejected',
      'accepted',
    ])
      assert.equal(isJobsReplyTopic(rest), true, rest);
    for (const rest of ['foo', 'get/extra', 'notify/x', 'foo/bar/baz', 'accepted/x', 'notify-next/get'])
      assert.equal(isJobsReplyTopic(rest), false, rest);
  });
});
