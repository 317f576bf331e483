import { CronExpressionParser } from 'cron-parser';
import { OtterError } from '../errors.js';
import { constraintError, rejectUnknownKeys, requireEnum, requireInt, requireObject } from './validate.js';

/** JobEndBehavior (iot.json). */
export const JOB_END_BEHAVIORS = ['STOP_ROLLOUT', 'CANCEL', 'FORCE_CANCEL'] as const;
export type JobEndBehavior = (typeof JOB_END_BEHAVIORS)[number];

export interface MaintenanceWindow {
  /** AWS cron, e.g. `cron(0 22 ? * MON-FRI *)`, in UTC. */
  readonly startTime: string;
  readonly durationInMinutes: number;
}
/** The job's `schedulingConfig`, in its wire form. */
export interface SchedulingConfig {
  readonly startTime?: string;
  readonly endTime?: string;
  readonly endBehavior?: JobEndBehavior;
  readonly maintenanceWindows?: readonly MaintenanceWindow[];
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const YEAR = 365 * DAY;
/** AWS SchedulingConfig doc: 30 min minimums, startTime ≤ 1 year ahead, endTime ≤ 2 years ahead. */
const MIN_LEAD = 30 * MINUTE;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d{1,3})?Z?$/;

/** Parses `yyyy-MM-ddTHH:mm` (seconds and a trailing Z tolerated), UTC, to epoch ms. */
export function parseScheduleTime(value: unknown, path: string): number {
  const m = typeof value === 'string' ? DATE_TIME.exec(value) : null;
  if (!m) throw constraintError(path, value, 'be a date and time in the format yyyy-MM-ddTHH:mm (UTC)');
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as number[];
  const t = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
  const back = new Date(t);
  if (
    back.getUTCMonth() !== (mo ?? 1) - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi
  ) {
    throw constraintError(path, value, 'be a real calendar date and time');
  }
  return t;
}

const invalid = (message: string) => new OtterError('InvalidRequestException', message);

/**
 * Validates `schedulingConfig` at CreateJob time `now` (AWS SchedulingConfig doc): startTime at
 * least 30 min and at most 1 year ahead; endTime at least 30 min ahead, at most 2 years ahead,
 * 30 min to 2 years after startTime; endBehavior only with endTime (ignored otherwise per doc,
 * kept as given); maintenance windows well-formed with durations 1..1430 min.
 */
export function validateSchedulingConfig(input: unknown, now: number): SchedulingConfig | undefined {
  if (input === undefined) return undefined;
  const path = 'schedulingConfig';
  const obj = requireObject(input, path);
  rejectUnknownKeys(obj, ['startTime', 'endTime', 'endBehavior', 'maintenanceWindows'], path);
  const out: {
    startTime?: string;
    endTime?: string;
    endBehavior?: JobEndBehavior;
    maintenanceWindows?: MaintenanceWindow[];
  } = {};
  let start: number | undefined;
  if (obj.startTime !== undefined) {
    start = parseScheduleTime(obj.startTime, `${path}.startTime`);
    if (start < now + MIN_LEAD) throw invalid(`${path}.startTime must be at least 30 minutes from now`);
    if (start > now + YEAR) throw invalid(`${path}.startTime must be at most one year from now`);
    out.startTime = obj.startTime as string;
  }
  if (obj.endTime !== undefined) {
    const end = parseScheduleTime(obj.endTime, `${path}.endTime`);
    if (end < now + MIN_LEAD) throw invalid(`${path}.endTime must be at least 30 minutes from now`);
    if (end > now + 2 * YEAR) throw invalid(`${path}.endTime must be at most two years from now`);
    const from = start ?? now;
    if (end - from < MIN_LEAD) throw invalid(`${path}.endTime must be at least 30 minutes after startTime`);
    if (end - from > 2 * YEAR) throw invalid(`${path}.endTime must be at most two years after startTime`);
    out.endTime = obj.endTime as string;
  }
  if (obj.endBehavior !== undefined) {
    out.endBehavior = requireEnum(obj.endBehavior, `${path}.endBehavior`, JOB_END_BEHAVIORS);
  }
  if (obj.maintenanceWindows !== undefined) {
    if (!Array.isArray(obj.maintenanceWindows))
      throw constraintError(`${path}.maintenanceWindows`, obj.maintenanceWindows, 'be a list');
    out.maintenanceWindows = obj.maintenanceWindows.map((w, i) => {
      const p = `${path}.maintenanceWindows.${i + 1}`;
      const o = requireObject(w, p);
      rejectUnknownKeys(o, ['startTime', 'durationInMinutes'], p);
      if (typeof o.startTime !== 'string')
        throw constraintError(`${p}.startTime`, o.startTime, 'be an AWS cron expression');
      parseAwsCron(o.startTime);
      return {
        startTime: o.startTime,
        durationInMinutes: requireInt(o.durationInMinutes, `${p}.durationInMinutes`, 1, 1430),
      };
    });
  }
  return out;
}

/** An AWS cron expression turned into a cron-parser expression plus the year filter. */
export interface ParsedCron {
  /** Six fields, seconds first, for cron-parser in UTC. */
  readonly expression: string;
  /** Allowed years; undefined = every year. */
  readonly years?: ReadonlySet<number>;
}

const badCron = (expr: string, why: string) =>
  new OtterError('InvalidRequestException', `Invalid cron expression '${expr}': ${why}`);

/**
 * Converts `cron(min hour day-of-month month day-of-week year)` (AWS syntax: exactly one of the two
 * day fields is `?`; day-of-week 1-7 = SUN-SAT or names; years 1970-2199) to cron-parser syntax
 * (day-of-week 0-6 = SUN-SAT). `W` is not supported by cron-parser and is refused.
 */
export function parseAwsCron(expr: string): ParsedCron {
  const m = /^cron\((.*)\)$/.exec(expr.trim());
  if (!m) throw badCron(expr, 'expected cron(minutes hours day-of-month month day-of-week year)');
  const fields = (m[1] ?? '').trim().split(/\s+/);
  if (fields.length !== 6) throw badCron(expr, `expected 6 fields, got ${fields.length}`);
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?'))
    throw badCron(expr, 'exactly one of day-of-month and day-of-week must be ?');
  if (/W/i.test(dom)) throw badCron(expr, 'the W (nearest weekday) flag is not supported');
  const dowOut = dow === '?' ? '?' : convertDayOfWeek(dow, expr);
  const years = year === '*' ? undefined : parseYears(year, expr);
  const expression = `0 ${min} ${hour} ${dom} ${month} ${dowOut}`;
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC', strict: false });
  } catch (e) {
    throw badCron(expr, (e as Error).message);
  }
  return years === undefined ? { expression } : { expression, years };
}

/** AWS numbers days 1 (SUN) to 7 (SAT); cron-parser 0 (SUN) to 6. Steps and `#n` stay as they are. */
function convertDayOfWeek(dow: string, expr: string): string {
  return dow.replace(/(^|[,-])(\d+)/g, (_all, sep: string, n: string) => {
    const v = Number(n);
    if (v < 1 || v > 7) throw badCron(expr, `day-of-week ${n} is outside 1-7`);
    return `${sep}${v - 1}`;
  });
}

function parseYears(field: string, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const pm = /^(\*|\d{4})(?:-(\d{4}))?(?:\/(\d+))?$/.exec(part);
    if (!pm) throw badCron(expr, `bad year '${part}'`);
    const from = pm[1] === '*' ? 1970 : Number(pm[1]);
    const to = pm[2] !== undefined ? Number(pm[2]) : pm[1] === '*' || pm[3] !== undefined ? 2199 : from;
    const step = pm[3] === undefined ? 1 : Number(pm[3]);
    if (from < 1970 || to > 2199 || from > to || step < 1)
      throw badCron(expr, `year '${part}' is outside 1970-2199`);
    for (let y = from; y <= to; y += step) out.add(y);
  }
  return out;
}

const yearOk = (c: ParsedCron, t: number) =>
  c.years === undefined || c.years.has(new Date(t).getUTCFullYear());

/** The open occurrence of one window at `now` (latest start ≤ now whose window still runs). */
function openOccurrence(c: ParsedCron, durationMs: number, now: number): number | undefined {
  const it = CronExpressionParser.parse(c.expression, { tz: 'UTC', currentDate: new Date(now + 1000) });
  for (let i = 0; i < 2000; i++) {
    const t = it.prev().getTime();
    if (t + durationMs <= now) return undefined;
    if (t <= now && yearOk(c, t)) return t;
  }
  return undefined;
}

/** The first start after `now` in an allowed year. */
function nextOccurrence(c: ParsedCron, now: number): number | undefined {
  let from = now;
  for (let i = 0; i < 500; i++) {
    const it = CronExpressionParser.parse(c.expression, { tz: 'UTC', currentDate: new Date(from) });
    if (!it.hasNext()) return undefined;
    const t = it.next().getTime();
    if (yearOk(c, t)) return t;
    const y = new Date(t).getUTCFullYear();
    const later = c.years ? [...c.years].filter((x) => x > y).sort((a, b) => a - b)[0] : y + 1;
    if (later === undefined) return undefined;
    from = Date.UTC(later, 0, 1) - 1000;
  }
  return undefined;
}

export interface WindowState {
  readonly open: boolean;
  /** When rollout may next begin (closed only; absent when it never will). */
  readonly opensAt?: number;
  /** When the current window ends (open only; absent when it never closes). */
  readonly closesAt?: number;
}

/**
 * Whether rollout may run at `now` (UTC): never before startTime nor at/after endTime; without
 * maintenance windows it runs in between; with them, only inside one (an IN_PROGRESS job that
 * reaches a window's end stops rolling out until the next window: AWS "Job states" doc).
 */
export function windowState(config: SchedulingConfig | undefined, now: number): WindowState {
  const start =
    config?.startTime === undefined ? undefined : parseScheduleTime(config.startTime, 'startTime');
  const end = config?.endTime === undefined ? undefined : parseScheduleTime(config.endTime, 'endTime');
  if (end !== undefined && now >= end) return { open: false };
  const windows = (config?.maintenanceWindows ?? []).map((w) => ({
    cron: parseAwsCron(w.startTime),
    ms: w.durationInMinutes * MINUTE,
  }));
  const cap = (t: number | undefined) => (t === undefined ? end : end === undefined ? t : Math.min(t, end));
  if (start !== undefined && now < start) {
    if (windows.length === 0) return { open: false, opensAt: start };
    // Before startTime, the first window start at or after startTime (an open window at startTime counts from it).
    const { startTime: _ignored, ...fromStart } = config ?? {};
    const atStart = windowState(fromStart, start);
    const opensAt = atStart.open ? start : atStart.opensAt;
    return opensAt === undefined ? { open: false } : { open: false, opensAt };
  }
  if (windows.length === 0) {
    const closesAt = end;
    return closesAt === undefined ? { open: true } : { open: true, closesAt };
  }
  const openEnds = windows
    .map((w) => {
      const t = openOccurrence(w.cron, w.ms, now);
      return t === undefined ? undefined : t + w.ms;
    })
    .filter((t): t is number => t !== undefined);
  if (openEnds.length > 0) {
    const closesAt = cap(Math.max(...openEnds));
    return closesAt === undefined ? { open: true } : { open: true, closesAt };
  }
  const nexts = windows.map((w) => nextOccurrence(w.cron, now)).filter((t): t is number => t !== undefined);
  const opensAt = nexts.length === 0 ? undefined : Math.min(...nexts);
  return opensAt === undefined || (end !== undefined && opensAt >= end)
    ? { open: false }
    : { open: false, opensAt };
}
