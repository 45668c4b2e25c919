/**
 * npm test's plan of processes (scripts/test-groups.mjs): short files share processes, in groups of about
 * GROUP_SECONDS; a file that says so, awaits at its top level, drives the browser or is long keeps its own; and a
 * group's entry module runs each file in a suite of its own, so one file's hooks do not reach another's tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GROUP_SECONDS,
  LONG,
  ownProcessReason,
  planProcesses,
  writeEntries,
  type TestProcess,
} from '../../scripts/test-groups.mjs';

test('a file keeps its own process when it says so, awaits at its top level, drives the browser or is long', () => {
  const plain = `import { test } from 'node:test';\ntest('x', async () => {\n  await 1;\n});\n`;
  assert.equal(ownProcessReason('test/api/a.test.ts', plain, 2), undefined);
  assert.equal(ownProcessReason('test/api/a.test.ts', plain, undefined), undefined);
  assert.equal(ownProcessReason('test/a.test.ts', `// npm test: own process — sets HOME\n${plain}`, 1), 'it says so');
  assert.equal(
    ownProcessReason('test/a.test.ts', `const root = await start();\n${plain}`, 1),
    'it awaits at its top level',
  );
  assert.equal(ownProcessReason('test/a.test.ts', `await ready();\n${plain}`, 1), 'it awaits at its top level');
  assert.equal(
    ownProcessReason('test/a.test.ts', `const r = (await start()).root();\n`, 1),
    'it awaits at its top level',
  );
  assert.equal(ownProcessReason('test/a.test.ts', `// we await nothing here\n/* await */\n${plain}`, 1), undefined);
  assert.equal(ownProcessReason('test/a.test.ts', `test('a title that says await', () => {});\n`, 1), undefined);
  assert.equal(ownProcessReason('test/web/a.test.ts', plain, 1), 'it drives the browser');
  assert.equal(ownProcessReason('test/a.test.ts', plain, LONG + 1), `it took ${LONG + 1} s`);
});

test('short files are packed into groups of about GROUP_SECONDS, every file exactly once, longest process first', () => {
  const long = Math.max(LONG, GROUP_SECONDS) + 10;
  const seconds: Record<string, number> = { 'test/long.test.ts': long, 'test/web/b.test.ts': 5 };
  const files = ['test/long.test.ts', 'test/web/b.test.ts'];
  for (let i = 0; i < 20; i++) {
    files.push(`test/s${i}.test.ts`);
    seconds[`test/s${i}.test.ts`] = 1 + (i % 5);
  }
  files.push('test/untimed.test.ts');
  const plan = planProcesses(files, seconds, () => '');
  assert.deepEqual(plan[0], { files: ['test/long.test.ts'], seconds: long });
  assert.deepEqual(plan.flatMap((p) => p.files).sort(), [...files].sort());
  const groups = plan.filter((p) => p.files.length > 1);
  assert.equal(groups.length, Math.ceil((20 * 3 + 3) / GROUP_SECONDS));
  for (const g of groups) assert.ok(g.seconds <= GROUP_SECONDS + 5, JSON.stringify(g));
  const order = plan.map((p) => p.seconds);
  assert.deepEqual(
    order,
    [...order].sort((a, b) => b - a),
  );
});

test('files timed at 0 s still get a group', () => {
  const plan = planProcesses(
    ['test/a.test.ts', 'test/b.test.ts'],
    { 'test/a.test.ts': 0, 'test/b.test.ts': 0 },
    () => '',
  );
  assert.deepEqual(plan, [{ files: ['test/a.test.ts', 'test/b.test.ts'], seconds: 0 }]);
});

test('entry modules are named in start order (node --test sorts what it is given); a top-level await is imported plainly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-groups-'));
  try {
    const processes: TestProcess[] = Array.from({ length: 12 }, (_, i) => ({
      files: [`test/z${11 - i}.test.ts`],
      seconds: 12 - i,
    }));
    processes[3] = { files: ['test/tla.test.ts'], seconds: 9, plain: true };
    const entries = writeEntries(processes, dir);
    assert.deepEqual([...entries].sort(), entries);
    assert.match(entries[0]!, /01-z11\.mjs$/);
    assert.doesNotMatch(readFileSync(entries[3]!, 'utf8'), /describe/);
    assert.match(readFileSync(entries[3]!, 'utf8'), /^import "file:.*tla\.test\.ts";$/m);
    assert.match(readFileSync(entries[4]!, 'utf8'), /describe\("test\/z7\.test\.ts"/);
    const plan = planProcesses(['test/tla.test.ts'], {}, () => 'const x = await 1;\n');
    assert.deepEqual(plan, [{ files: ['test/tla.test.ts'], seconds: Infinity, plain: true }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a group runs each file in its own suite: one file's hooks do not reach another's tests", () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-groups-'));
  try {
    writeFileSync(
      join(dir, 'a.test.mjs'),
      `import { test, before, beforeEach } from 'node:test';
let ready = false;
before(() => { ready = true; });
beforeEach(() => { globalThis.seenByA = (globalThis.seenByA ?? 0) + 1; });
test('a sees its before', () => { if (!ready) throw new Error('before did not run'); });\n`,
    );
    writeFileSync(
      join(dir, 'b.test.mjs'),
      `import { test } from 'node:test';
test('b is not under a’s beforeEach', () => { if (globalThis.seenByA !== 1) throw new Error(String(globalThis.seenByA)); });\n`,
    );
    const [entry] = writeEntries(
      [{ files: [join(dir, 'a.test.mjs'), join(dir, 'b.test.mjs')], seconds: 2 }],
      join(dir, 'g'),
    );
    assert.match(readFileSync(entry!, 'utf8'), /describe\(.*a\.test\.mjs/);
    // Not as a child of this test process's runner (NODE_TEST_CONTEXT would make it report to this one).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', entry!], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /# pass 2/);
    assert.match(r.stdout, /# Subtest: .*a\.test\.mjs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
