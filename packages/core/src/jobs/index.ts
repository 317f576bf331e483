export * from './abort.js';
export * from './document.js';
export * from './execution.js';
export * from './process-details.js';
export * from './retry.js';
export * from './rollout.js';
export * from './scheduling.js';
