/** `hoist copy`'s arguments and options, defined once for the whole command line and for the copy-only entry. */
import type { Command } from 'commander';
import { insecureOption } from './program.ts';
import { collect } from './registry-flags.ts';

export function addCopyCommand(program: Command): void {
  program
    .command('copy')
    .description(
      'copy an image (all platforms, with its signatures, SBOMs and attestations) to another repository or registry',
    )
    .argument('<SRC>', 'source image: HOST/REPO:TAG, HOST/REPO@sha256:..., or an OCI image layout: oci:DIR[:TAG]')
    .argument(
      '<DST>',
      'destination: HOST/REPO:TAG, HOST/REPO@sha256:... (must equal the source digest), or HOST/REPO to keep the source tag',
    )
    .option('--src-creds <user:pass>', 'credentials for the source registry (default: docker config.json)')
    .option('--dest-creds <user:pass>', 'credentials for the destination registry (default: docker config.json)')
    .addOption(insecureOption())
    .option('--concurrency <n>', 'blob transfers at once', '6')
    .option('--tag <tag>', 'also write this tag at the destination (repeatable)', collect)
    .option('--no-referrers', 'do not copy signatures, SBOMs and other referrers')
    .option('--json', 'print the result as JSON on stdout')
    .option('-q, --quiet', 'no progress output')
    .action(async (src: string, dst: string, flags) =>
      (await import('./commands/copy.ts')).copyCommand(src, dst, flags),
    );
}
