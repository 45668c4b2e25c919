// The whole test suite: install what is missing, build the CLI, then run every test file with node's test runner
// against real registries. Extra arguments select test files (`npm test -- test/copy.test.ts`).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GROUPS, knownFileTimes } from './test-file-times.mjs';
import { planProcesses, readText, writeEntries } from './test-groups.mjs';

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
// The test processes, slowest first, by the last run's times (scripts/test-file-times.mjs keeps them): the run ends
// when its last process does, so a long one must not be among the last to start. Short files share processes, and
// every process gets an entry module named in that order, since node --test sorts the files it is given by name
// (scripts/test-groups.mjs; until 4 December 2026 the order given here was lost that way, and the web files, the
// longest, started last). Where no run has left times (a fresh checkout, CI), these from a clean clone's run (4
// December 2026, evening; seconds) stand in: every file over 5 s is here, so that none of the long ones is put in a
// group or started among the last.
const FRESH_CLONE_TIMES = {
  'test/web/board-live.test.ts': 40.5,
  'test/web/approvals.test.ts': 34.0,
  'test/serve.test.ts': 26.8,
  'test/api/retry.test.ts': 24.9,
  'test/web/screens.test.ts': 24.4,
  'test/web/automation-admin.test.ts': 23.2,
  'test/web/guards.test.ts': 21.1,
  'test/deploy/image.test.ts': 20.6,
  'test/api/gitops.test.ts': 19.5,
  'test/api/automation.test.ts': 18.9,
  'test/data-dir.test.ts': 18.5,
  'test/web/keyboard.test.ts': 15.9,
  'test/cli-policies.test.ts': 15.1,
  'test/api/retag.test.ts': 15.0,
  'test/web/console.test.ts': 13.9,
  'test/web/sso.test.ts': 12.7,
  'test/api/attestation-echo.test.ts': 10.4,
  'test/copy-failures.test.ts': 9.8,
  'test/api/artifacts.test.ts': 9.7,
  'test/cli-automation.test.ts': 9.3,
  'test/api/releases.test.ts': 9.3,
  'test/replicas-fencing.test.ts': 9.1,
  'test/api/release-attestations.test.ts': 8.7,
  'test/api/attestations.test.ts': 8.4,
  'test/api/accounts.test.ts': 8.2,
  'test/api/promotion-decisions.test.ts': 8.2,
  'test/api/promotions.test.ts': 7.6,
  'test/api/live-events.test.ts': 7.4,
  'test/harness.test.ts': 7.4,
  'test/cli-verify.test.ts': 7.4,
  'test/api/board.test.ts': 7.3,
  'test/api/backpressure.test.ts': 7.0,
  'test/release-restart.test.ts': 6.9,
  'test/cli-yaml-bounds.test.ts': 6.7,
  'test/web/retry.test.ts': 6.6,
  'test/api/paging.test.ts': 6.1,
  'test/api/pending.test.ts': 6.0,
  'test/restart.test.ts': 5.9,
  'test/api/promotion-round-trips.test.ts': 5.9,
  'test/api/identity-cache.test.ts': 5.7,
  'test/cli-trust.test.ts': 5.6,
  'test/api/referrer-race.test.ts': 5.5,
  'test/api/trust.test.ts': 5.5,
  'test/api/cross-project.test.ts': 5.3,
};
const recorded = knownFileTimes();
const times = Object.keys(recorded).length > 0 ? recorded : FRESH_CLONE_TIMES;
const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : testFiles('test').sort();
const entries = writeEntries(planProcesses(files, times, readText), GROUPS);
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
    ...entries,
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
