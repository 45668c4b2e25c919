import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCopyArgs } from '../../src/cli/copy-args.ts';
import { addCopyCommand } from '../../src/cli/copy-command.ts';
import { newProgram } from '../../src/cli/program.ts';

/** What commander hands copy's action for these arguments (its own reading, the one readCopyArgs must equal). */
async function commanderReads(argv: string[]): Promise<unknown> {
  const program = newProgram();
  addCopyCommand(program);
  let read: unknown;
  program.commands[0]?.action((src: string, dst: string, flags: object) => {
    read = { src, dst, flags: { ...flags } };
  });
  await program.parseAsync(argv, { from: 'user' });
  return read;
}

test('a plain copy reads as commander reads it, without commander', async () => {
  const cases = [
    ['copy', 'a:1/x/y:1', 'b:2/x/z'],
    ['copy', '-q', '--json', '--insecure-registry', 'a:1', '--insecure-registry=b:2', 'a:1/x/y:1', 'b:2/x/z:1'],
    ['copy', 'a:1/x/y:1', '--src-creds', 'u:p', 'b:2/x/z', '--dest-creds=v:q', '--concurrency', '3'],
    ['copy', '--tag', 'one', '--tag=two', '--no-referrers', 'a:1/x/y:1', 'b:2/x/z', '--concurrency=8', '--quiet'],
    ['copy', '--concurrency', '2', '--concurrency', '4', '--tag=-x', 'oci:/tmp/layout:1', 'b:2/x/z'],
  ];
  for (const argv of cases) {
    const plain = readCopyArgs(argv);
    assert.ok(plain, argv.join(' '));
    assert.deepEqual(plain, await commanderReads(argv), argv.join(' '));
  }
});

test('anything but plain arguments is left to commander', () => {
  for (const argv of [
    ['copy', '--help', 'a/b', 'c/d'],
    ['copy', '-h'],
    ['copy', 'a/b'],
    ['copy', 'a/b', 'c/d', 'e/f'],
    ['copy', '--bogus', 'a/b', 'c/d'],
    ['copy', '--tag', '-x', 'a/b', 'c/d'],
    ['copy', 'a/b', 'c/d', '--tag'],
    ['copy', '--json=yes', 'a/b', 'c/d'],
    ['copy', '-qj', 'a/b', 'c/d'],
    ['copy', '--', 'a/b', 'c/d'],
    ['copy', '-', 'c/d'],
    ['tags', 'a/b', 'c/d'],
  ])
    assert.equal(readCopyArgs(argv), undefined, argv.join(' '));
});
