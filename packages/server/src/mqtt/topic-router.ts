import { isThingName } from './topic-access.js';

/** Publishes `payload` on `topic` as a reply to the request being handled (see MqttService). */
export type Reply = (topic: string, payload: Buffer | string | object) => Promise<void>;

/**
 * Handles one request message. `thingName` is the `{thingName}` level of the topic (already checked
 * against the ThingName pattern), `params` the other `{name}` levels, `payload` the raw bytes.
 */
export type RouteHandler = (
  thingName: string,
  params: Record<string, string>,
  payload: Buffer,
  reply: Reply,
) => Promise<void>;

interface Route {
  pattern: string;
  levels: string[];
  /** The name of a last `{name...}` level (one or more topic levels), if the pattern ends in one. */
  rest: string | undefined;
  handler: RouteHandler;
}

/** `{name}`: one topic level. */
const isParam = (level: string) => level.startsWith('{') && level.endsWith('}');
/** `{name...}`: one or more topic levels, last level of a pattern only. */
const isRest = (level: string) => isParam(level) && level.endsWith('...}');

/**
 * Topic patterns with named levels, e.g. `$aws/things/{thingName}/shadow/name/{shadowName}/get`.
 * Every pattern must have a `{thingName}` level. A `{name}` level matches exactly one non-empty
 * topic level; a last `{name...}` level matches one or more levels (any content, empty ones too),
 * e.g. `$aws/things/{thingName}/jobs/{rest...}`: a fallback for a namespace, which a topic reaches
 * only when no pattern without `{name...}` matches it.
 */
export class TopicRouter {
  readonly #routes: Route[] = [];
  readonly #listeners: ((filter: string) => void)[] = [];

  add(pattern: string, handler: RouteHandler): void {
    const levels = pattern.split('/');
    if (!levels.includes('{thingName}')) throw new Error(`MQTT route ${pattern} has no {thingName} level`);
    if (levels.some((l) => l.includes('+') || l.includes('#')))
      throw new Error(`MQTT route ${pattern}: use {name} levels, not wildcards`);
    if (levels.slice(0, -1).some(isRest) || levels[levels.length - 1] === '{thingName...}')
      throw new Error(`MQTT route ${pattern}: {name...} is only for the last level, not {thingName}`);
    const last = levels[levels.length - 1]!;
    const rest = isRest(last) ? last.slice(1, -4) : undefined;
    this.#routes.push({ pattern, levels, rest, handler });
    const filter = TopicRouter.filterOf(pattern);
    if (this.#covered(filter)) return;
    for (const listen of this.#listeners) listen(filter);
  }

  /** The MQTT subscription filter that receives a pattern's messages (`{x}` → `+`, `{x...}` → `#`). */
  static filterOf(pattern: string): string {
    return pattern
      .split('/')
      .map((l) => (isRest(l) ? '#' : isParam(l) ? '+' : l))
      .join('/');
  }

  /** Whether another route's filter already receives everything `filter` does. */
  #covered(filter: string): boolean {
    return this.#routes.some((r) => {
      const other = TopicRouter.filterOf(r.pattern);
      return other !== filter && filterCovers(other, filter);
    });
  }

  /**
   * The filters to subscribe for every route so far, leaving out those another route's filter
   * covers (a broker may deliver a message once per matching subscription, and a request must be
   * handled once); `onRoute` hears of routes added later. Routes with `{name...}` must be added
   * before the filters are subscribed: a filter already subscribed is not withdrawn.
   */
  filters(onRoute?: (filter: string) => void): string[] {
    if (onRoute) this.#listeners.push(onRoute);
    const all = [...new Set(this.#routes.map((r) => TopicRouter.filterOf(r.pattern)))];
    return all.filter((f) => !this.#covered(f));
  }

  /** The route a topic name goes to, with its parameters; undefined when none matches. */
  match(
    topic: string,
  ): { handler: RouteHandler; thingName: string; params: Record<string, string> } | undefined {
    const t = topic.split('/');
    let fallback: { route: Route; params: Record<string, string> } | undefined;
    for (const route of this.#routes) {
      const fixed = route.rest === undefined ? route.levels.length : route.levels.length - 1;
      if (route.rest === undefined ? t.length !== fixed : t.length <= fixed) continue;
      if (route.rest !== undefined && fallback) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < fixed && ok; i++) {
        const level = route.levels[i]!;
        const value = t[i]!;
        if (isParam(level)) {
          if (value === '') ok = false;
          else params[level.slice(1, -1)] = value;
        } else ok = level === value;
      }
      if (!ok) continue;
      if (route.rest !== undefined) {
        params[route.rest] = t.slice(fixed).join('/');
        fallback = { route, params };
        continue;
      }
      return found(route, params);
    }
    return fallback && found(fallback.route, fallback.params);
  }
}

function found(route: Route, params: Record<string, string>) {
  const thingName = params.thingName!;
  if (!isThingName(thingName)) return undefined;
  delete params.thingName;
  return { handler: route.handler, thingName, params };
}

/** Does every topic that `inner` matches also match `outer`? (Filters of routes: `+` levels and a last `#`.) */
function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const i = inner.split('/');
  for (let k = 0; k < o.length; k++) {
    if (o[k] === '#') return true; // `a/#` matches `a` and everything below it
    if (k >= i.length) return false;
    if (i[k] === '#') return false;
    if (o[k] !== '+' && o[k] !== i[k]) return false;
  }
  return o.length === i.length;
}
