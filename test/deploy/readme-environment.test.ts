/**
 * The README's table of environment variables lists every one hoist reads: the names are found in the sources
 * (environment-variables.ts), so a new `HOIST_*` variable without a row fails here rather than going undocumented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { variablesHoistReads } from './environment-variables.ts';
import { ROOT } from './image-cache.ts';

function tableRows(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Environment variables');
  assert.ok(start >= 0, 'the README has the section');
  const end = readme.indexOf('\n## ', start);
  return readme
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => /^\| `([^`]+)`/.exec(line)![1]!);
}

test('the README table of environment variables names every variable hoist reads', () => {
  const rows = tableRows();
  const missing = variablesHoistReads().filter((name) =>
    // A prefix (HOIST_REGISTRY_) is documented by a row that starts with it and has a placeholder.
    name.endsWith('_') ? !rows.some((r) => r.startsWith(name) && r.includes('<')) : !rows.includes(name),
  );
  assert.deepEqual(missing, [], 'add a row to README.md, "Running in production", "Environment variables"');
});

test('the table names no variable hoist does not read', () => {
  const read = variablesHoistReads();
  const stale = tableRows().filter(
    (row) => !read.includes(row) && !read.some((name) => name.endsWith('_') && row.startsWith(name)),
  );
  assert.deepEqual(stale, []);
});
