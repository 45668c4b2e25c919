/**
 * `hoist copy` on its own: the entry the bundle's dispatcher (entry.ts) runs for `hoist copy ...`, so that a copy
 * loads one module with commander, the copy command and the copy engine, and not the definitions of every other
 * command (a copy that finds the image present is dominated by start-up). `hoist copy --help` and its usage errors
 * read as they do from the whole command line: both define the command with copy-command.ts.
 */
import { addCopyCommand } from './copy-command.ts';
import { newProgram, runProgram } from './program.ts';

const program = newProgram();
addCopyCommand(program);
void runProgram(program, () => process.argv.slice(2));
