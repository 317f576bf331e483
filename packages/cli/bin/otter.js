#!/usr/bin/env node
// The `otter` command. Otter runs from its TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every Node.js 20 run that its releases after January 2027 need Node.js 22;
// Otter pins its SDK versions in the lockfile, so the warning only gets in the way of the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
