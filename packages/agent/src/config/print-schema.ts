/** Writes docs/agent-config.schema.json: `node --import tsx packages/agent/src/config/print-schema.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AGENT_CONFIG_SCHEMA } from './schema.js';

export const SCHEMA_FILE = fileURLToPath(
  new URL('../../../../docs/agent-config.schema.json', import.meta.url),
);
export const schemaJson = () => `${JSON.stringify(AGENT_CONFIG_SCHEMA, null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_FILE, schemaJson());
  console.log(`wrote ${SCHEMA_FILE}`);
}
