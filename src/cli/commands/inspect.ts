/** `hoist inspect REF`: digest, media type, platforms, size, config labels and referrers of an image. */
import { inspectImage } from '../../oci/inspect-image.ts';
import { formatReference, parseReference } from '../../oci/reference.ts';
import { openRepository } from '../../oci/registry.ts';
import { formatBytes } from '../format.ts';
import { credentialsFor, HostCache, insecureList, type RegistryFlags } from '../registry-flags.ts';

export interface InspectFlags extends RegistryFlags {
  creds?: string;
  json?: boolean;
}

export async function inspectCommand(refArg: string, flags: InspectFlags): Promise<void> {
  const ref = parseReference(refArg, 'REF');
  const host = new HostCache(insecureList(flags)).open(
    ref.registry,
    credentialsFor(ref.registry, flags.creds, '--creds'),
  );
  const info = await inspectImage(openRepository(host, ref.repository), ref.digest ?? ref.tag ?? 'latest');
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ reference: formatReference(ref), ...info }, null, 2)}\n`);
    return;
  }
  const lines = [
    `Reference:  ${formatReference(ref)}`,
    `Digest:     ${info.digest}`,
    `Media type: ${info.mediaType}`,
    `Size:       ${formatBytes(info.size)}`,
  ];
  if (info.created) lines.push(`Created:    ${info.created}`);
  if (info.platforms.length > 0) {
    lines.push('Platforms:');
    for (const p of info.platforms) {
      const name = p.platform
        ? `${p.platform.os}/${p.platform.architecture}${p.platform.variant ? `/${p.platform.variant}` : ''}`
        : '(unknown)';
      lines.push(`  ${name.padEnd(20)} ${p.digest}  ${formatBytes(p.size)}`);
    }
  }
  const labels = Object.entries(info.labels);
  lines.push(labels.length > 0 ? 'Labels:' : 'Labels:     (none)');
  for (const [k, v] of labels) lines.push(`  ${k}=${v}`);
  lines.push(info.referrers.length > 0 ? 'Referrers:' : 'Referrers:  (none)');
  for (const r of info.referrers)
    lines.push(`  ${(r.artifactType ?? r.mediaType).padEnd(48)} ${r.digest}  ${formatBytes(r.size)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
