import { OtterError } from '../errors.js';

/**
 * Input checks shared by the jobs configs. Messages follow the AWS "1 validation error detected"
 * form; the type is InvalidRequestException because that is the only validation error the
 * CreateJob / CreateJobTemplate / UpdateJob models declare (iot.json).
 */
export function constraintError(path: string, value: unknown, constraint: string): OtterError {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return new OtterError(
    'InvalidRequestException',
    `1 validation error detected: Value '${shown}' at '${path}' failed to satisfy constraint: Member must ${constraint}`,
  );
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A plain object, or a typed error naming `path`. */
export function requireObject(v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) throw constraintError(path, v, 'be an object');
  return v;
}

/** Rejects members the AWS shape does not have, so typos never pass silently. */
export function rejectUnknownKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new OtterError('InvalidRequestException', `Unknown member '${k}' in '${path}'`);
    }
  }
}

/** An integer in [min, max] (either bound optional). */
export function requireInt(v: unknown, path: string, min?: number, max?: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw constraintError(path, v, 'be an integer');
  if (min !== undefined && v < min)
    throw constraintError(path, v, `have value greater than or equal to ${min}`);
  if (max !== undefined && v > max) throw constraintError(path, v, `have value less than or equal to ${max}`);
  return v;
}

/** A finite number in [min, max] with at most `decimals` digits after the point. */
export function requireDecimal(v: unknown, path: string, min: number, max: number, decimals: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw constraintError(path, v, 'be a number');
  if (v < min) throw constraintError(path, v, `have value greater than or equal to ${min}`);
  if (v > max) throw constraintError(path, v, `have value less than or equal to ${max}`);
  const scaled = v * 10 ** decimals;
  if (Math.abs(scaled - Math.round(scaled)) > 1e-6) {
    throw constraintError(
      path,
      v,
      `have at most ${decimals} digit${decimals === 1 ? '' : 's'} after the decimal point`,
    );
  }
  return v;
}

/** One of `values`. */
export function requireEnum<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw constraintError(path, v, `satisfy enum value set: [${values.join(', ')}]`);
  }
  return v as T;
}
