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
  handler: RouteHandler;
}

/**
 * Topic patterns with named levels, e.g. `$aws/things/{thingName}/shadow/name/{shadowName}/get`.
 * Every pattern must have a `{thingName}` level. A `{name}` level matches exactly one topic level.
 */
export class TopicRouter {
  readonly #routes: Route[] = [];
  readonly #listeners: ((filter: string) => void)[] = [];

  add(pattern: string, handler: RouteHandler): void {
    const levels = pattern.split('/');
    if (!levels.includes('{thingName}')) throw new Error(`MQTT route ${pattern} has no {thingName} level`);
    if (levels.some((l) => l.includes('+') || l.includes('#')))
      throw new Error(`MQTT route ${pattern}: use {name} levels, not wildcards`);
    this.#routes.push({ pattern, levels, handler });
    for (const listen of this.#listeners) listen(TopicRouter.filterOf(pattern));
  }

  /** The MQTT subscription filter that receives a pattern's messages (`{x}` → `+`). */
  static filterOf(pattern: string): string {
    return pattern
      .split('/')
      .map((l) => (l.startsWith('{') && l.endsWith('}') ? '+' : l))
      .join('/');
  }

  /** Filters of every route so far; `onRoute` hears of routes added later. */
  filters(onRoute?: (filter: string) => void): string[] {
    if (onRoute) this.#listeners.push(onRoute);
    return this.#routes.map((r) => TopicRouter.filterOf(r.pattern));
  }

  /** The route a topic name goes to, with its parameters; undefined when none matches. */
  match(
    topic: string,
  ): { handler: RouteHandler; thingName: string; params: Record<string, string> } | undefined {
    const t = topic.split('/');
    for (const route of this.#routes) {
      if (route.levels.length !== t.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < t.length && ok; i++) {
        const level = route.levels[i]!;
        const value = t[i]!;
        if (level.startsWith('{') && level.endsWith('}')) {
          if (value === '') ok = false;
          else params[level.slice(1, -1)] = value;
        } else ok = level === value;
      }
      if (!ok) continue;
      const thingName = params.thingName!;
      if (!isThingName(thingName)) return undefined;
      delete params.thingName;
      return { handler: route.handler, thingName, params };
    }
    return undefined;
  }
}
