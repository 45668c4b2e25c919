// The whole test suite: install what is missing, build the CLI, then run every test file with node's test runner
// against real registries. Extra arguments select test files (`npm test -- test/copy.test.ts`).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

execFileSync('bash', ['scripts/setup.sh'], { stdio: 'inherit' });
execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}
// npm test runs this under Node 22 or newer (scripts/node.sh); say which, once, so a log shows it.
process.stdout.write(`tests run on Node ${process.version}\n`);
const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : testFiles('test').sort();
const reporter = process.stdout.isTTY ? 'spec' : 'spec';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-reporter=${reporter}`, '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
