/** Test helper process: begins a job in argv[2] (or resumes it) and records numbered steps forever. */
import { Journal } from './journal.js';

const journal = new Journal(process.argv[2] ?? '.');
const prev = journal.load();
let i = prev?.steps.at(-1)?.data?.i as number | undefined;
if (prev === undefined || prev.status !== 'IN_PROGRESS')
  journal.begin({ jobId: 'job-1', executionNumber: 1 });
else journal.begin({ jobId: prev.jobId, executionNumber: 1 });
const filler = 'x'.repeat(4_000); // a write spans more than one page
const first = (i ?? 0) + 1;
for (i = first; ; i++) {
  journal.step(`step-${i}`, {
    data: { i, filler },
    files: [`/f/${i}`],
    installedBefore: { [`p${i % 5}`]: `1.${i}` },
  });
  if (i === first) process.stdout.write('started\n');
}
