/**
 * Cron windows for `update.schedule` and `update.apply`. A minute is inside the window when the
 * expression matches it (`* 22-23 * * *` is 22:00 to 23:59 UTC). Both the usual 5-field cron and
 * AWS `cron(min hour dom month dow year)` are accepted; 5-field expressions are translated to the AWS
 * form and checked by core's parser (cron-parser underneath), so one cron implementation serves
 * server and agent.
 *
 * Core's schedule code (cron-parser and luxon, about 6 MiB once loaded) is imported only for a
 * window that is not "every minute" (`* * * * *`, the default): an agent without windows never
 * loads it. That import is asynchronous, hence `parseCronWindow` returns a Promise; once a window
 * is parsed, `cronWindowState` on it is synchronous.
 */
type ScheduleModule = typeof import('@otter/core/schedule');

let schedule: ScheduleModule | undefined;

/** Loads core's cron parser (once); `parseCronWindow` does it when a window needs it. */
export async function loadCronParser(): Promise<void> {
  schedule ??= await import('@otter/core/schedule');
}

/** Whether core's cron parser has been loaded into this process (for tests and diagnostics). */
export const cronParserLoaded = (): boolean => schedule !== undefined;

function loadedSchedule(): ScheduleModule {
  if (schedule === undefined) throw new Error('the cron parser is not loaded (await loadCronParser())');
  return schedule;
}

export interface CronWindow {
  /** As configured. */
  readonly source: string;
  /** The same window as an AWS cron expression. */
  readonly aws: string;
  /** Every minute matches (`* * * * *`): always open, no cron parser needed. */
  readonly always: boolean;
}

const ANY = new Set(['*', '?']);

/** Classic day-of-week (0-7, 0 and 7 = Sunday) to AWS (1-7 = SUN-SAT), via names where a range wraps. */
function toAwsDayOfWeek(field: string, source: string): string {
  return field
    .split(',')
    .map((part) => {
      const m = /^(\d+)(?:-(\d+))?(\/\d+)?$/.exec(part);
      if (!m) return part; // names, `*`, `*/n`, `#`, `L`: same meaning in both syntaxes
      const from = Number(m[1]);
      const to = m[2] === undefined ? undefined : Number(m[2]);
      if (from > 7 || (to !== undefined && to > 7)) {
        throw new Error(`invalid cron expression '${source}': day-of-week must be 0-7`);
      }
      if (to === undefined) return `${(from % 7) + 1}${m[3] ?? ''}`;
      if (to === 7 && from > 0 && m[3] === undefined) return `${from + 1}-7,1`; // e.g. 5-7 = FRI-SUN
      if (to === 7 && m[3] !== undefined) {
        throw new Error(`invalid cron expression '${source}': write Sunday as 0 in a stepped range`);
      }
      return `${from + 1}-${to + 1}${m[3] ?? ''}`;
    })
    .join(',');
}

/** The AWS form of a window, with checks that need no cron parser; throws an Error saying what is wrong. */
function toAwsCron(source: string): string {
  const text = source.trim();
  let aws: string;
  if (text.startsWith('cron(')) {
    aws = text;
  } else {
    const fields = text.split(/\s+/);
    if (fields.length !== 5) {
      throw new Error(
        `invalid cron expression '${source}': expected 5 fields (minute hour day-of-month month day-of-week) or cron(...)`,
      );
    }
    const [min, hour, dom, month, dow] = fields as [string, string, string, string, string];
    const domAny = dom === '*' || dom === '?';
    const dowAny = dow === '*' || dow === '?';
    if (!domAny && !dowAny) {
      throw new Error(
        `invalid cron expression '${source}': restrict day-of-month or day-of-week, not both (use * for one)`,
      );
    }
    const awsDom = domAny && !dowAny ? '?' : dom === '?' ? '*' : dom;
    const awsDow = dowAny ? '?' : toAwsDayOfWeek(dow, source);
    aws = `cron(${min} ${hour} ${awsDom} ${month} ${awsDow} *)`;
  }
  return aws;
}

/** True when a window matches every minute (`* * * * *`, `cron(* * * * ? *)`): nothing to parse. */
export function isAlwaysOpenCron(source: string): boolean {
  const text = source.trim();
  const inner = /^cron\((.*)\)$/.exec(text)?.[1];
  const fields = (inner ?? text).trim().split(/\s+/);
  return fields.length === (inner === undefined ? 5 : 6) && fields.every((f) => ANY.has(f));
}

/**
 * Parses a window with the cron parser already loaded (`loadCronParser`) when the window needs it;
 * throws an Error whose message says what is wrong.
 */
export function parseCronWindowSync(source: string): CronWindow {
  const aws = toAwsCron(source);
  if (isAlwaysOpenCron(source)) return { source, aws, always: true };
  try {
    loadedSchedule().parseAwsCron(aws);
  } catch (e) {
    const why = (e as Error).message.replace(/^Invalid cron expression '[^']*': /, '');
    throw new Error(`invalid cron expression '${source}': ${why}`);
  }
  return { source, aws, always: false };
}

/** Parses a window (loading the cron parser when it is not every minute); rejects with what is wrong. */
export async function parseCronWindow(source: string): Promise<CronWindow> {
  if (!isAlwaysOpenCron(source)) await loadCronParser();
  return parseCronWindowSync(source);
}

/** Whether `now` (epoch ms) lies inside the window, and when it next opens or closes. */
export function cronWindowState(window: CronWindow, now: number): { open: boolean; opensAt?: number } {
  if (window.always) return { open: true };
  const state = loadedSchedule().windowState(
    { maintenanceWindows: [{ startTime: window.aws, durationInMinutes: 1 }] },
    now,
  );
  return state.opensAt === undefined ? { open: state.open } : { open: state.open, opensAt: state.opensAt };
}
