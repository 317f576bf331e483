export * from './ast.js';
export * from './fixtures.js';
export * from './index-fields.js';
export * from './match.js';
export {
  FLEET_QUERY_DEFAULT_FIELD,
  FLEET_QUERY_MAX_LENGTH,
  FLEET_QUERY_MAX_TERMS,
  parseFleetQuery,
} from './parse.js';
export * from './print.js';
export * from './sql.js';
