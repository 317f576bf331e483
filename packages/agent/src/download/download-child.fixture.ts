/** Test helper process: download(JSON options in argv[2]); prints progress lines and the result. */
import { download } from './download.js';

const options = JSON.parse(process.argv[2] ?? '{}');
let last = 0;
download({
  ...options,
  onProgress: ({ received }: { received: number }) => {
    if (received - last >= 65536) {
      last = received;
      process.stdout.write(`progress ${received}\n`);
    }
  },
}).then(
  (r) => process.stdout.write(`done ${JSON.stringify(r)}\n`),
  (e) => {
    process.stdout.write(`failed ${e.code} ${e.message}\n`);
    process.exitCode = 2;
  },
);
