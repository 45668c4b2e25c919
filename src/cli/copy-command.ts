/** `hoist copy`'s arguments and options, defined once for the whole command line and for the copy-only entry. */
import { Option, type Command } from 'commander';
import { COPY_OPTIONS } from './copy-args.ts';
import { collect } from './registry-flags.ts';

export function addCopyCommand(program: Command): void {
  const command = program
    .command('copy')
    .description(
      'copy an image (all platforms, with its signatures, SBOMs and attestations) to another repository or registry',
    )
    .argument('<SRC>', 'source image: HOST/REPO:TAG, HOST/REPO@sha256:..., or an OCI image layout: oci:DIR[:TAG]')
    .argument(
      '<DST>',
      'destination: HOST/REPO:TAG, HOST/REPO@sha256:... (must equal the source digest), or HOST/REPO to keep the source tag',
    );
  for (const o of COPY_OPTIONS) {
    const option = new Option(o.flags, o.description);
    if (o.default !== undefined) option.default(o.default);
    if (o.repeatable) option.argParser(collect);
    command.addOption(option);
  }
  command.action(async (src: string, dst: string, flags) =>
    (await import('./commands/copy.ts')).copyCommand(src, dst, flags),
  );
}
