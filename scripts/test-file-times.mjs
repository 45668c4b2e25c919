// A node:test reporter for npm test: after the run, each test file's time (the sum of its top-level tests and suites,
// hooks included; module loading not), slowest first, so the next person speeding the suite up starts from figures.
// (Timestamps taken here would be wrong: the runner holds back other files' events while one file is reported.)
export default async function* fileTimes(source) {
  const files = new Map();
  for await (const event of source) {
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0) continue;
    const file = event.data.file ?? '?';
    files.set(file, (files.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0) / 1000);
  }
  const rows = [...files].map(([file, seconds]) => [file.replace(`${process.cwd()}/`, ''), seconds]);
  rows.sort((a, b) => b[1] - a[1]);
  yield '\ntime per test file (s), slowest first:\n';
  for (const [file, seconds] of rows) yield `${seconds.toFixed(1).padStart(8)}  ${file}\n`;
}
