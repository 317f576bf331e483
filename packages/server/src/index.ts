export { buildApp } from './app.js';
export { ConfigError, loadServerConfig, SERVER_SETTINGS, type ServerConfig } from './config.js';
export { type RunningServer, type StartOptions, startServer } from './main.js';
