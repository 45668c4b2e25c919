/**
 * `hoist copy SRC DST`: copy one image by digest, with all its platforms and referrers, then tag it. SRC is a
 * registry reference or an OCI image layout on disk (`oci:DIR[:TAG|@DIGEST]`).
 */
import { setMaxListeners } from 'node:events';
import { copyImage, type CopyResult } from '../../copy/copy-image.ts';
import { BufferReclaimer } from '../../copy/reclaim.ts';
import { InvalidInput } from '../../errors.ts';
import { prepareDigests } from '../../oci/digest.ts';
import { OciLayout, parseLayoutReference } from '../../oci/oci-layout.ts';
import { checkTag, formatReference, parseReference, type Reference } from '../../oci/reference.ts';
import { lineProgress, terminalProgress, type ProgressDisplay } from '../copy-progress.ts';
import { formatBytes } from '../format.ts';
import { credentialsFor, HostCache, insecureList, type RegistryFlags } from '../registry-flags.ts';

export interface CopyFlags extends RegistryFlags {
  srcCreds?: string;
  destCreds?: string;
  concurrency: string;
  referrers: boolean;
  json?: boolean;
  quiet?: boolean;
  tag?: string[];
}

export async function copyCommand(srcArg: string, dstArg: string, flags: CopyFlags): Promise<void> {
  const layout = parseLayoutReference(srcArg);
  const source: Reference = layout
    ? {
        registry: `oci:${layout.dir}`,
        repository: '',
        ...(layout.tag !== undefined ? { tag: layout.tag } : {}),
        ...(layout.digest !== undefined ? { digest: layout.digest } : {}),
      }
    : parseReference(srcArg, 'SRC');
  const target = parseReference(dstArg, 'DST');
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new InvalidInput(`"${flags.concurrency}" is not a whole number from 1 to 64`, '--concurrency');
  for (const t of flags.tag ?? []) {
    const bad = checkTag(t);
    if (bad) throw new InvalidInput(bad, '--tag');
  }
  const hosts = new HostCache(insecureList(flags));
  const sourceHost = layout
    ? OciLayout.open(layout.dir)
    : hosts.open(source.registry, credentialsFor(source.registry, flags.srcCreds, '--src-creds'));
  const targetHost = hosts.open(target.registry, credentialsFor(target.registry, flags.destCreds, '--dest-creds'));

  let progress: ProgressDisplay | undefined;
  if (!flags.quiet) progress = process.stderr.isTTY ? await terminalProgress() : lineProgress();
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  let result: CopyResult;
  try {
    const copying = copyImage({
      source,
      sourceHost,
      target,
      targetHost,
      extraTags: flags.tag ?? [],
      referrers: flags.referrers,
      concurrency,
      // This process only copies: its dead stream buffers are collected as the bytes flow (reclaim.ts).
      reclaim: new BufferReclaimer(),
      signal: controller.signal,
      ...(progress ? { onEvent: progress.listener } : {}),
    });
    // The first requests are out by the time this runs: set up the hashing while they travel.
    setImmediate(prepareDigests);
    result = await copying;
  } finally {
    progress?.stop();
    process.off('SIGINT', onSignal);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...result, seconds: Number(result.seconds.toFixed(3)) })}\n`);
    return;
  }
  const where =
    result.tags.length > 0
      ? result.tags
          .map((t) => formatReference({ registry: target.registry, repository: target.repository, tag: t }))
          .join(', ')
      : result.target;
  process.stdout.write(
    `copied ${result.digest} to ${where}: ${formatBytes(result.bytesStreamed)} streamed, ${result.blobsStreamed} blobs streamed, ` +
      `${result.blobsMounted} mounted, ${result.blobsSkipped} present, ${result.referrersCopied} referrers, ${result.seconds.toFixed(2)} s\n`,
  );
}
