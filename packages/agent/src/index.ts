/** The Otter device agent: library API (`createAgent`) and the pieces it is built from. */

export * from './agent/agent.js';
export * from './config/agent-config.js';
export * from './config/cron-window.js';
export { parseDurationSeconds } from './config/duration.js';
export { AGENT_CONFIG_SCHEMA, HANDLER_NAMES, LOG_LEVELS, TRANSPORTS } from './config/schema.js';
export * from './documents/index.js';
export * from './download/download.js';
export * from './download/download-error.js';
export { ThrottleStream } from './download/throttle.js';
export * from './download/verify-signature.js';
export * from './journal/journal.js';
export * from './lock/agent-lock.js';
export * from './loop/job-runner.js';
export * from './loop/logger.js';
export { agentCommand, DEFAULT_AGENT_CONFIG } from './main.js';
export * from './status/status.js';
export * from './transport/index.js';
