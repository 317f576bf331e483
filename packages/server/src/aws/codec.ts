import { OtterError } from '@otter/core';
import { membersOf, type Operation, type ServiceModel, type Shape, type ShapeRef, shapeOf } from './model.js';
import { throwIfInvalid, validateShape } from './validate.js';

export interface RawInput {
  /** path labels by their model name, already percent-decoded */
  labels: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface EncodedOutput {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  contentType: string;
}

const bad = (message: string) => new OtterError('InvalidRequestException', message);

/** Decodes a REST-JSON request into the operation's input structure, validated against the model. */
export function decodeInput(model: ServiceModel, op: Operation, raw: RawInput): Record<string, unknown> {
  if (!op.input) return {};
  const shape = shapeOf(model, op.input.shape);
  const input: Record<string, unknown> = {};
  const bodyMembers: [string, ShapeRef, Shape][] = [];
  for (const { name, ref, shape: memberShape } of membersOf(model, shape)) {
    const key = ref.locationName ?? name;
    switch (ref.location) {
      case 'uri':
        if (raw.labels[key] !== undefined) input[name] = fromText(memberShape, raw.labels[key], key);
        break;
      case 'querystring': {
        if (memberShape.type === 'list') {
          const all = raw.query.getAll(key);
          if (all.length) input[name] = all;
        } else if (memberShape.type === 'map') {
          const map: Record<string, string> = {};
          for (const [k, v] of raw.query) map[k] = v;
          if (Object.keys(map).length) input[name] = map;
        } else {
          const v = raw.query.get(key);
          if (v !== null) input[name] = fromText(memberShape, v, key);
        }
        break;
      }
      case 'header': {
        const v = raw.headers[key.toLowerCase()];
        if (typeof v === 'string') input[name] = fromText(memberShape, v, key);
        break;
      }
      default:
        if (shape.payload === name) {
          input[name] =
            memberShape.type === 'blob'
              ? raw.body
              : raw.body.length
                ? fromJson(model, memberShape, parseJson(raw.body), name)
                : undefined;
        } else bodyMembers.push([name, ref, memberShape]);
    }
  }
  if (bodyMembers.length && shape.payload === undefined && raw.body.length) {
    const json = parseJson(raw.body);
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw bad('The request body must be a JSON object');
    const obj = json as Record<string, unknown>;
    for (const [name, ref, memberShape] of bodyMembers) {
      const v = obj[ref.locationName ?? name];
      if (v !== undefined && v !== null) input[name] = fromJson(model, memberShape, v, name);
    }
  }
  const errors: string[] = [];
  validateShape(model, shape, input, '', errors);
  throwIfInvalid(errors, validationErrorType(op));
  return input;
}

const validationErrorTypes = new WeakMap<Operation, 'InvalidRequestException' | 'ValidationException'>();

/** Model violations are reported with the error the operation declares for them (computed once per operation). */
function validationErrorType(op: Operation): 'InvalidRequestException' | 'ValidationException' {
  let type = validationErrorTypes.get(op);
  if (!type) {
    const declares = (name: string) => op.errors?.some((e) => e.shape === name) ?? false;
    type =
      declares('ValidationException') && !declares('InvalidRequestException')
        ? 'ValidationException'
        : 'InvalidRequestException';
    validationErrorTypes.set(op, type);
  }
  return type;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw bad('The request body is not valid JSON');
  }
}

function fromText(shape: Shape, v: string, name: string): unknown {
  switch (shape.type) {
    case 'integer':
    case 'long': {
      if (!/^-?\d+$/.test(v)) throw bad(`${name} must be an integer, got '${v}'`);
      return Number(v);
    }
    case 'double':
    case 'float': {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw bad(`${name} must be a number, got '${v}'`);
      return n;
    }
    case 'boolean':
      if (v !== 'true' && v !== 'false') throw bad(`${name} must be true or false, got '${v}'`);
      return v === 'true';
    case 'timestamp': {
      const d = /^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
      if (Number.isNaN(d.getTime())) throw bad(`${name} must be a timestamp, got '${v}'`);
      return d;
    }
    default:
      return v;
  }
}

/** Converts JSON body values into model types (timestamps → Date, blobs → Buffer); leaves bad types for validation. */
function fromJson(model: ServiceModel, shape: Shape, v: unknown, path: string): unknown {
  switch (shape.type) {
    case 'structure': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
      const out: Record<string, unknown> = {};
      const obj = v as Record<string, unknown>;
      for (const { name, ref, shape: memberShape } of membersOf(model, shape)) {
        const x = obj[ref.locationName ?? name];
        if (x !== undefined && x !== null) out[name] = fromJson(model, memberShape, x, `${path}.${name}`);
      }
      return out;
    }
    case 'list':
      return Array.isArray(v)
        ? v.map((x) => fromJson(model, shapeOf(model, shape.member!.shape), x, path))
        : v;
    case 'map': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
      const vs = shapeOf(model, shape.value!.shape);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJson(model, vs, x, path)]));
    }
    case 'timestamp':
      if (typeof v === 'number') return new Date(v * 1000);
      if (typeof v === 'string') return new Date(v);
      return v;
    case 'blob':
      return typeof v === 'string' ? Buffer.from(v, 'base64') : v;
    default:
      return v;
  }
}

/** Encodes a handler's result: located members go to headers/status, the rest to the JSON body. */
export function encodeOutput(
  model: ServiceModel,
  op: Operation,
  result: Record<string, unknown> | undefined,
): EncodedOutput {
  const out: EncodedOutput = {
    status: op.http.responseCode ?? 200,
    headers: {},
    body: '{}',
    contentType: 'application/json',
  };
  if (!op.output || !result) return out;
  const shape = shapeOf(model, op.output.shape);
  const body: Record<string, unknown> = {};
  for (const { name, ref, shape: memberShape } of membersOf(model, shape)) {
    const v = result[name];
    if (v === undefined || v === null) continue;
    if (ref.location === 'header') out.headers[(ref.locationName ?? name).toLowerCase()] = String(v);
    else if (ref.location === 'statusCode') out.status = Number(v);
    else if (shape.payload === name) {
      if (Buffer.isBuffer(v)) {
        out.body = v;
        out.contentType = 'application/octet-stream';
      } else out.body = JSON.stringify(toJson(model, memberShape, v));
      return out;
    } else body[ref.locationName ?? name] = toJson(model, memberShape, v);
  }
  out.body = JSON.stringify(body);
  return out;
}

function toJson(model: ServiceModel, shape: Shape, v: unknown): unknown {
  switch (shape.type) {
    case 'structure': {
      const obj = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const { name, ref, shape: memberShape } of membersOf(model, shape)) {
        const x = obj[name];
        if (x !== undefined && x !== null) out[ref.locationName ?? name] = toJson(model, memberShape, x);
      }
      return out;
    }
    case 'list': {
      const member = shapeOf(model, shape.member!.shape);
      return (v as unknown[]).map((x) => toJson(model, member, x));
    }
    case 'map': {
      const vs = shapeOf(model, shape.value!.shape);
      return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toJson(model, vs, x)]));
    }
    case 'timestamp':
      return v instanceof Date ? v.getTime() / 1000 : v;
    case 'blob':
      return Buffer.isBuffer(v) ? v.toString('base64') : v;
    default:
      return v;
  }
}
