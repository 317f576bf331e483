/** Job documents: every supported format parsed into one JobPlan. */
export * from './job-plan.js';
export { OTTER_DOCUMENT_SCHEMA } from './otter-document-schema.js';
export { detectFormat, MAX_DOCUMENT_BYTES, parseJobDocument } from './parse-job-document.js';
