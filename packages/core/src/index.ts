export * from './clock.js';
export * from './debian/index.js';
export * from './errors.js';
export * from './fleet-query/index.js';
export * from './jobs/index.js';
export * from './shadow/index.js';
export * from './signing/index.js';
