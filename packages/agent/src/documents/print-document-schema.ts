/** Writes docs/schemas/otter-job-document.schema.json: `node --import tsx packages/agent/src/documents/print-document-schema.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OTTER_DOCUMENT_SCHEMA } from './otter-document-schema.js';

export const DOCUMENT_SCHEMA_FILE = fileURLToPath(
  new URL('../../../../docs/schemas/otter-job-document.schema.json', import.meta.url),
);
export const documentSchemaJson = () => `${JSON.stringify(OTTER_DOCUMENT_SCHEMA, null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(DOCUMENT_SCHEMA_FILE, documentSchemaJson());
  console.log(`wrote ${DOCUMENT_SCHEMA_FILE}`);
}
