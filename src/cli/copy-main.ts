/**
 * `hoist copy` on its own: the entry the bundle's dispatcher (entry.ts) runs for `hoist copy ...`, so that a copy
 * loads one module with the copy command and the copy engine, and not the definitions of every other command (a copy
 * that finds the image present is dominated by start-up). Plain arguments (copy-args.ts) run the copy without
 * commander; anything else (`--help`, a usage error, an unusual spelling) goes to commander, which defines the command
 * with copy-command.ts from the same table of options, so help and usage errors read as they do from the whole
 * command line.
 *
 * When the run is over (the copy settled: nothing of it is in flight) the process exits as soon as its output is
 * written, rather than when Node has torn down the heap: after a copy that streamed 120 MiB that teardown took
 * 20-50 ms of the whole process (18-92 ms under load ~15, against 9-46 ms with the exit; bench:copy (g)).
 */
import { readCopyArgs } from './copy-args.ts';
import { reportFailure } from './exit-codes.ts';

/** Exits with process.exitCode once what was written to stdout and stderr has been handed to the system. */
function exitWhenWritten(): void {
  let pending = 2;
  const written = (): void => {
    if (--pending === 0) process.exit();
  };
  process.stdout.write('', written);
  process.stderr.write('', written);
}

async function main(argv: string[]): Promise<void> {
  const plain = readCopyArgs(argv);
  if (plain) {
    try {
      await (await import('./commands/copy.ts')).copyCommand(plain.src, plain.dst, plain.flags);
    } catch (e) {
      reportFailure(e);
    }
    return;
  }
  const [{ addCopyCommand }, { newProgram, runProgram }] = await Promise.all([
    import('./copy-command.ts'),
    import('./program.ts'),
  ]);
  const program = newProgram();
  addCopyCommand(program);
  await runProgram(program, () => argv);
}

void main(process.argv.slice(2)).then(exitWhenWritten);
