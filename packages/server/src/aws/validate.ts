import { OtterError } from '@otter/core';
import { membersOf, type ServiceModel, type Shape, shapeOf } from './model.js';

/** Java's POSIX classes (ASCII, as in java.util.regex) that the models use, as JS class ranges. */
const POSIX: Record<string, string> = {
  Graph: '\\x21-\\x7E',
  Print: '\\x20-\\x7E',
  Alnum: 'A-Za-z0-9',
  Alpha: 'A-Za-z',
  Digit: '0-9',
  Upper: 'A-Z',
  Lower: 'a-z',
  Punct: '!-\\/:-@\\[-`{-~',
  Space: ' \\t\\n\\x0B\\f\\r',
  ASCII: '\\x00-\\x7F',
  Cntrl: '\\x00-\\x1F\\x7F',
  XDigit: '0-9a-fA-F',
  Blank: ' \\t',
};

/** Translates a model (Java) pattern into a JS regular expression that must match the whole value. */
export function modelPattern(p: string): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const m = /^\\p\{(\w+)\}/.exec(p.slice(i));
      const posix = m ? POSIX[m[1]!] : undefined;
      if (m && posix) {
        out += inClass ? posix : `[${posix}]`;
        i += m[0].length - 1;
        continue;
      }
      out += c + (p[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(`^(?:${out})$`, 'u');
}

const patterns = new Map<string, RegExp>();
const anchored = (p: string): RegExp => {
  let re = patterns.get(p);
  if (!re) {
    re = modelPattern(p);
    patterns.set(p, re);
  }
  return re;
};

const show = (v: unknown): string => (v === null || v === undefined ? 'null' : `'${String(v)}'`);

/** Checks a decoded value against its shape; collects AWS-style validation messages. */
export function validateShape(
  model: ServiceModel,
  shape: Shape,
  value: unknown,
  path: string,
  errors: string[],
): void {
  if (value === undefined || value === null) return;
  const fail = (constraint: string) =>
    errors.push(
      `Value ${show(typeof value === 'object' ? null : value)} at '${path}' failed to satisfy constraint: ${constraint}`,
    );
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        fail('Member must be a structure');
        return;
      }
      const obj = value as Record<string, unknown>;
      for (const req of shape.required ?? []) {
        if (obj[req] === undefined || obj[req] === null)
          errors.push(
            `Value null at '${path ? `${path}.` : ''}${req}' failed to satisfy constraint: Member must not be null`,
          );
      }
      for (const { name, shape: memberShape } of membersOf(model, shape)) {
        if (obj[name] !== undefined)
          validateShape(model, memberShape, obj[name], path ? `${path}.${name}` : name, errors);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) {
        fail('Member must be a list');
        return;
      }
      if (shape.min !== undefined && value.length < shape.min)
        fail(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value.length > shape.max)
        fail(`Member must have length less than or equal to ${shape.max}`);
      const member = shapeOf(model, shape.member!.shape);
      value.forEach((v, i) => {
        validateShape(model, member, v, `${path}.${i + 1}.member`, errors);
      });
      return;
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        fail('Member must be a map');
        return;
      }
      const entries = Object.entries(value as Record<string, unknown>);
      if (shape.min !== undefined && entries.length < shape.min)
        fail(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && entries.length > shape.max)
        fail(`Member must have length less than or equal to ${shape.max}`);
      const keyShape = shapeOf(model, shape.key!.shape);
      const valueShape = shapeOf(model, shape.value!.shape);
      for (const [k, v] of entries) {
        validateShape(model, keyShape, k, `${path}.key`, errors);
        validateShape(model, valueShape, v, `${path}.${k}`, errors);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') {
        fail('Member must be a string');
        return;
      }
      const len = shape.min === undefined && shape.max === undefined ? 0 : codePoints(value);
      if (shape.min !== undefined && len < shape.min)
        fail(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && len > shape.max)
        fail(`Member must have length less than or equal to ${shape.max}`);
      if (shape.pattern !== undefined && !anchored(shape.pattern).test(value))
        fail(`Member must satisfy regular expression pattern: ${shape.pattern}`);
      if (shape.enum && !shape.enum.includes(value))
        fail(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
      return;
    }
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        fail('Member must be an integer');
        return;
      }
      checkRange(shape, value, fail);
      return;
    case 'double':
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        fail('Member must be a number');
        return;
      }
      checkRange(shape, value, fail);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('Member must be a boolean');
      return;
    case 'timestamp':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) fail('Member must be a timestamp');
      return;
    case 'blob':
      if (!Buffer.isBuffer(value)) fail('Member must be a blob');
      return;
  }
}

/** Length in code points (what the models' min/max count), without spreading the string into an array. */
function codePoints(value: string): number {
  let n = value.length;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function checkRange(shape: Shape, value: number, fail: (c: string) => void): void {
  if (shape.min !== undefined && value < shape.min)
    fail(`Member must have value greater than or equal to ${shape.min}`);
  if (shape.max !== undefined && value > shape.max)
    fail(`Member must have value less than or equal to ${shape.max}`);
}

/** Model violations are InvalidRequestException, or ValidationException for operations that only declare that. */
export function throwIfInvalid(
  errors: string[],
  type: 'InvalidRequestException' | 'ValidationException' = 'InvalidRequestException',
): void {
  if (errors.length === 0) return;
  const n = errors.length;
  throw new OtterError(type, `${n} validation error${n === 1 ? '' : 's'} detected: ${errors.join('; ')}`);
}
