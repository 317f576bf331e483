export * from './clock.js';
export * from './errors.js';
export * from './fleet-query/index.js';
export * from './shadow/index.js';
