/** The AWS ThingName shape: 1–128 of `[a-zA-Z0-9:_-]`. No `/`, `+`, `#` or `$`, so it is one topic level. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export const isThingName = (s: string): boolean => THING_NAME_PATTERN.test(s);

/** Every topic a device may use starts with this prefix, its own thing name included. */
export const thingTopicPrefix = (thingName: string): string => `$aws/things/${thingName}/`;

/** MQTT forbids empty topics and U+0000 anywhere in a topic name or filter. */
const malformed = (topic: string): boolean => topic.length === 0 || topic.includes('\u0000');

/**
 * May the device `thingName` publish to `topic`? Only to a topic under `$aws/things/<thingName>/`
 * with at least one more level and no wildcard (MQTT forbids wildcards in topic names anyway).
 */
export function deviceMayPublish(thingName: string, topic: string): boolean {
  if (!isThingName(thingName) || malformed(topic)) return false;
  const prefix = thingTopicPrefix(thingName);
  if (!topic.startsWith(prefix) || topic.length === prefix.length) return false;
  return !topic.includes('+') && !topic.includes('#');
}

/**
 * May the device `thingName` subscribe to `filter`? Only under `$aws/things/<thingName>/`: the
 * first three levels must be literal (so `+` or `#` can never reach another thing's topics), and
 * wildcards after them must be well formed (`+` a whole level, `#` a whole last level). Shared
 * subscriptions (`$share/...`) and every other `$` topic are refused.
 */
export function deviceMaySubscribe(thingName: string, filter: string): boolean {
  if (!isThingName(thingName) || malformed(filter)) return false;
  const prefix = thingTopicPrefix(thingName);
  if (!filter.startsWith(prefix) || filter.length === prefix.length) return false;
  const rest = filter.slice(prefix.length).split('/');
  for (let i = 0; i < rest.length; i++) {
    const level = rest[i]!;
    if (level === '#') {
      if (i !== rest.length - 1) return false;
    } else if (level !== '+' && (level.includes('+') || level.includes('#'))) return false;
  }
  return true;
}

/** Does the topic filter `filter` (with `+` and `#`) match the topic name `topic`? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // A filter starting with a wildcard never matches a `$` topic (MQTT 4.7.2).
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
