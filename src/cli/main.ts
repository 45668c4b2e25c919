/**
 * The `hoist` command line. Each command's code is imported only when that command runs, so start-up stays fast
 * (a copy that finds nothing to do is dominated by start-up). Errors become exit codes in exit-codes.ts.
 */
import { Command, CommanderError, Option } from 'commander';
import { collect } from './registry-flags.ts';
import { describeError, EXIT_USAGE, exitCodeFor } from './exit-codes.ts';

const insecureOption = (): Option =>
  new Option('--insecure-registry <host:port>', 'talk plain HTTP to this registry (repeatable; also HOIST_INSECURE_REGISTRIES=a,b)').argParser(collect);

const program = new Command('hoist')
  .description('Promote container images between registries and environments, the same digest every step')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('copy')
  .description('copy an image (all platforms, with its signatures, SBOMs and attestations) to another repository or registry')
  .argument('<SRC>', 'source image: HOST/REPO:TAG or HOST/REPO@sha256:...')
  .argument('<DST>', 'destination: HOST/REPO:TAG, HOST/REPO@sha256:... (must equal the source digest), or HOST/REPO to keep the source tag')
  .option('--src-creds <user:pass>', 'credentials for the source registry (default: docker config.json)')
  .option('--dest-creds <user:pass>', 'credentials for the destination registry (default: docker config.json)')
  .addOption(insecureOption())
  .option('--concurrency <n>', 'blob transfers at once', '6')
  .option('--tag <tag>', 'also write this tag at the destination (repeatable)', collect)
  .option('--no-referrers', 'do not copy signatures, SBOMs and other referrers')
  .option('--json', 'print the result as JSON on stdout')
  .option('-q, --quiet', 'no progress output')
  .action(async (src: string, dst: string, flags) => (await import('./commands/copy.ts')).copyCommand(src, dst, flags));

program
  .command('inspect')
  .description('show digest, media type, platforms, size, labels and referrers of an image')
  .argument('<REF>', 'HOST/REPO:TAG or HOST/REPO@sha256:...')
  .option('--creds <user:pass>', 'registry credentials (default: docker config.json)')
  .addOption(insecureOption())
  .option('--json', 'print JSON')
  .action(async (ref: string, flags) => (await import('./commands/inspect.ts')).inspectCommand(ref, flags));

program
  .command('tags')
  .description('list the tags of a repository')
  .argument('<REPO>', 'HOST/REPO')
  .option('--creds <user:pass>', 'registry credentials (default: docker config.json)')
  .addOption(insecureOption())
  .option('--json', 'print JSON')
  .action(async (repo: string, flags) => (await import('./commands/tags.ts')).tagsCommand(repo, flags));

program
  .command('serve')
  .description('run the hoist server (API and web UI) on the embedded database or PostgreSQL')
  .addOption(new Option('--port <port>', 'port to listen on').env('HOIST_PORT').default('8080'))
  .addOption(new Option('--host <address>', 'address to listen on (0.0.0.0 for all)').env('HOIST_HOST').default('127.0.0.1'))
  .addOption(new Option('--data-dir <dir>', 'where the embedded database and the secret key live').env('HOIST_DATA_DIR').default('./.hoist'))
  .addOption(new Option('--database-url <url>', 'PostgreSQL instead of the embedded database (postgres://user:pass@host:5432/db)').env('HOIST_DATABASE_URL'))
  .addOption(new Option('--log-level <level>', 'pino log level').env('HOIST_LOG_LEVEL').default('info'))
  .action(async (flags) => (await import('./commands/serve.ts')).serveCommand(flags));

program
  .command('db')
  .description('database maintenance')
  .command('migrate')
  .description('apply schema migrations (hoist serve does this at start too)')
  .addOption(new Option('--data-dir <dir>', 'embedded database location').env('HOIST_DATA_DIR').default('./.hoist'))
  .addOption(new Option('--database-url <url>', 'PostgreSQL URL').env('HOIST_DATABASE_URL'))
  .action(async (flags) => (await import('./commands/db.ts')).dbMigrateCommand(flags));

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every other commander error is bad usage, already printed by commander.
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
    } else {
      process.stderr.write(`${describeError(e)}\n`);
      process.exitCode = exitCodeFor(e);
    }
  }
}

void main();
