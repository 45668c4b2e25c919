// The whole test suite: install what is missing, build the CLI, then run every test file with node's test runner
// against real registries. Extra arguments select test files (`npm test -- test/copy.test.ts`).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { knownFileTimes } from './test-file-times.mjs';

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
// Slowest first, by the last run's times (scripts/test-file-times.mjs keeps them; files without one first of all):
// the run ends when its last file does, so a long file must not be among the last to start. Where no run has left
// times (a fresh checkout, CI), the files that were slowest in a clean clone's run (4 December 2026, evening) go first;
// a file missing here would start among the last, so the list names every file that took over ~12 s.
const SLOWEST = [
  'test/web/board-live.test.ts',
  'test/web/approvals.test.ts',
  'test/serve.test.ts',
  'test/web/screens.test.ts',
  'test/api/retry.test.ts',
  'test/web/guards.test.ts',
  'test/web/automation-admin.test.ts',
  'test/deploy/image.test.ts',
  'test/web/keyboard.test.ts',
  'test/api/gitops.test.ts',
  'test/api/automation.test.ts',
  'test/data-dir.test.ts',
  'test/api/retag.test.ts',
  'test/web/sso.test.ts',
  'test/web/console.test.ts',
  'test/cli-policies.test.ts',
  'test/api/attestation-echo.test.ts',
  'test/api/artifacts.test.ts',
  'test/api/accounts.test.ts',
  'test/replicas-fencing.test.ts',
  'test/api/release-attestations.test.ts',
  'test/copy-failures.test.ts',
  'test/api/releases.test.ts',
  'test/web/retry.test.ts',
  'test/api/attestations.test.ts',
  'test/cli-automation.test.ts',
];
const recorded = knownFileTimes();
const known =
  Object.keys(recorded).length > 0 ? recorded : Object.fromEntries(SLOWEST.map((f, i) => [f, SLOWEST.length - i]));
const unknown = Object.keys(recorded).length > 0 ? Infinity : 0;
const files = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : testFiles('test').sort()).sort(
  (a, b) => (known[b] ?? unknown) - (known[a] ?? unknown),
);
// Test files run in parallel processes. Most of a file's time is spent waiting (registries, PostgreSQL, child
// processes), so more files than cores pays off; HOIST_TEST_CONCURRENCY overrides.
const concurrency = Number(process.env.HOIST_TEST_CONCURRENCY ?? 3);
// Node strips the types itself where it can (22.7 and newer; the code has parameter properties, so it transforms): a
// test process then loads in half the CPU time it takes through tsx's hooks, which counts on 2 cores with ~60 files.
// NODE_COMPILE_CACHE keeps V8's compiled code (and the stripped TypeScript) between processes, the test files' and
// the `hoist` CLI processes they start alike.
const typescript = process.allowedNodeEnvironmentFlags.has('--experimental-transform-types')
  ? ['--experimental-transform-types', '--disable-warning=ExperimentalWarning']
  : ['--import', 'tsx'];
const r = spawnSync(
  process.execPath,
  [
    ...typescript,
    '--test',
    // One PostgreSQL with a migrated template for every file (test/helpers/backends.ts uses it).
    '--test-global-setup=scripts/test-global-setup.mjs',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/test-file-times.mjs',
    '--test-reporter-destination=stdout',
    `--test-concurrency=${concurrency}`,
    ...files,
  ],
  {
    stdio: 'inherit',
    env: {
      NODE_COMPILE_CACHE: fileURLToPath(new URL('../node_modules/.cache/hoist-test-compile', import.meta.url)),
      // Compiled request and response schemas, kept as code between processes (src/api/schema-cache.ts).
      HOIST_SCHEMA_CACHE: fileURLToPath(new URL('../node_modules/.cache/hoist-schemas', import.meta.url)),
      // The web test files share one Chromium, launched by the global setup when any of them runs.
      ...(files.some((f) => /(^|\/)test\/web\//.test(f)) ? { HOIST_TEST_BROWSER: 'shared' } : {}),
      ...process.env,
    },
  },
);
process.exit(r.status ?? 1);
