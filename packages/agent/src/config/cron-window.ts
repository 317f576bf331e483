/**
 * Cron windows for `update.schedule` and `update.apply`. A minute is inside the window when the
 * expression matches it (`* 22-23 * * *` is 22:00 to 23:59 UTC). Both the usual 5-field cron and
 * AWS `cron(min hour dom month dow year)` are accepted; 5-field expressions are translated to the AWS
 * form and checked by core's parser (cron-parser underneath), so one cron implementation serves
 * server and agent.
 */
import { parseAwsCron, windowState } from '@otter/core';

export interface CronWindow {
  /** As configured. */
  readonly source: string;
  /** The same window as an AWS cron expression. */
  readonly aws: string;
}

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

/** Parses a window; throws an Error whose message says what is wrong. */
export function parseCronWindow(source: string): CronWindow {
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
  try {
    parseAwsCron(aws);
  } catch (e) {
    const why = (e as Error).message.replace(/^Invalid cron expression '[^']*': /, '');
    throw new Error(`invalid cron expression '${source}': ${why}`);
  }
  return { source, aws };
}

/** Whether `now` (epoch ms) lies inside the window, and when it next opens or closes. */
export function cronWindowState(window: CronWindow, now: number): { open: boolean; opensAt?: number } {
  const state = windowState({ maintenanceWindows: [{ startTime: window.aws, durationInMinutes: 1 }] }, now);
  return state.opensAt === undefined ? { open: state.open } : { open: state.open, opensAt: state.opensAt };
}
