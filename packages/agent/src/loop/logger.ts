/**
 * Structured logs: one JSON object per line (`{"time","level","msg",...fields}`), filtered by the
 * configured level. Handlers get the same logger (their HandlerLogger interface is a subset).
 */
import type { LogLevel } from '../config/agent-config.js';
import type { HandlerLogger } from '../handlers/handler.js';

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export interface AgentLogger extends HandlerLogger {
  trace(message: string, data?: Record<string, unknown>): void;
  fatal(message: string, data?: Record<string, unknown>): void;
  /** A logger whose lines all carry `fields` (e.g. the jobId). */
  child(fields: Record<string, unknown>): AgentLogger;
}

export type LogSink = (line: string) => void;

export function createLogger(
  level: LogLevel,
  sink: LogSink = (line) => process.stderr.write(`${line}\n`),
  fields: Record<string, unknown> = {},
  now: () => number = Date.now,
): AgentLogger {
  const min = RANK[level];
  const at =
    (l: LogLevel) =>
    (msg: string, data?: Record<string, unknown>): void => {
      if (RANK[l] < min) return;
      let line: string;
      try {
        line = JSON.stringify({ time: new Date(now()).toISOString(), level: l, msg, ...fields, ...data });
      } catch {
        line = JSON.stringify({ time: new Date(now()).toISOString(), level: l, msg, ...fields });
      }
      sink(line);
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => createLogger(level, sink, { ...fields, ...more }, now),
  };
}

/** A logger that drops everything (library default when none is given). */
export const silentLogger: AgentLogger = createLogger('fatal', () => {});
