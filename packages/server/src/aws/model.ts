import { createRequire } from 'node:module';

/** The subset of the botocore service model that the wire layer reads. */
export interface ShapeRef {
  shape: string;
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
  jsonvalue?: boolean;
}
export interface Shape {
  type:
    | 'structure'
    | 'list'
    | 'map'
    | 'string'
    | 'integer'
    | 'long'
    | 'double'
    | 'float'
    | 'boolean'
    | 'timestamp'
    | 'blob';
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  pattern?: string;
  min?: number;
  max?: number;
  enum?: string[];
  payload?: string;
  timestampFormat?: string;
  exception?: boolean;
}
export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: { shape: string };
  output?: { shape: string };
  /** The error shapes the operation may return. */
  errors?: { shape: string }[];
}
export interface ServiceModel {
  metadata: { signingName: string; serviceId: string; apiVersion: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

/** Model file names under ./models, by SigV4 signing name. */
export const SERVICE_MODEL_FILES = {
  iot: 'iot.json',
  iotdata: 'iot-data.json',
  'iot-jobs-data': 'iot-jobs-data.json',
  greengrass: 'greengrass.json',
} as const;
export type AwsService = keyof typeof SERVICE_MODEL_FILES;

const require = createRequire(import.meta.url);
const cache = new Map<AwsService, ServiceModel>();

export function loadServiceModel(service: AwsService): ServiceModel {
  let model = cache.get(service);
  if (!model) {
    model = require(`./models/${SERVICE_MODEL_FILES[service]}`) as ServiceModel;
    cache.set(service, model);
  }
  return model;
}

export function shapeOf(model: ServiceModel, name: string): Shape {
  const shape = model.shapes[name];
  if (!shape) throw new Error(`model has no shape ${name}`);
  return shape;
}

/** A structure member with its shape resolved. */
export interface ResolvedMember {
  name: string;
  ref: ShapeRef;
  shape: Shape;
}

const resolvedMembers = new WeakMap<Shape, readonly ResolvedMember[]>();

/**
 * A structure's members with their shapes, resolved once per shape: the codec and the validator walk
 * them on every request (no Object.entries and shape lookups per request and per list item).
 */
export function membersOf(model: ServiceModel, shape: Shape): readonly ResolvedMember[] {
  let members = resolvedMembers.get(shape);
  if (!members) {
    members = Object.entries(shape.members ?? {}).map(([name, ref]) => ({
      name,
      ref,
      shape: shapeOf(model, ref.shape),
    }));
    resolvedMembers.set(shape, members);
  }
  return members;
}
