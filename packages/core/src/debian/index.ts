export * from './apt-manifest.js';
export * from './debian-errors.js';
export * from './debian-version.js';
