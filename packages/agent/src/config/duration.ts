const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
};

/** Seconds from a number of seconds or a string such as `90`, `90s`, `15min`, `6hr`, `1day`. */
export function parseDurationSeconds(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(value.trim());
  const unit = m?.[2] === '' ? 's' : m?.[2];
  const factor = unit === undefined ? undefined : UNIT_SECONDS[unit];
  if (!m || factor === undefined) throw new Error(`invalid duration '${value}'`);
  return Number(m[1]) * factor;
}
