/**
 * The `hoist` program as commander sees it, shared by the whole command line (main.ts) and the entry that runs only
 * `hoist copy` (copy-main.ts): its name, version and usage errors, and how a run's failure becomes a message and an
 * exit code (exit-codes.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT_USAGE, reportFailure } from './exit-codes.ts';
import { collect, INSECURE_REGISTRY_DESCRIPTION, INSECURE_REGISTRY_FLAGS } from './registry-flags.ts';
import { VERSION } from '../version.ts';

export function newProgram(): Command {
  return new Command('hoist')
    .description('Promote container images between registries and environments, the same digest every step')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

/** `--insecure-registry`, which every command that talks to registries takes. */
export const insecureOption = (): Option =>
  new Option(INSECURE_REGISTRY_FLAGS, INSECURE_REGISTRY_DESCRIPTION).argParser(collect);

/** Runs the program on the arguments `argv()` answers (it may throw bad usage too), setting the exit code. */
export async function runProgram(program: Command, argv: () => string[]): Promise<void> {
  try {
    await program.parseAsync(argv(), { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every other commander error is bad usage, already printed by commander.
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
    } else {
      reportFailure(e);
    }
  }
}
