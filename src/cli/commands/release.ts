/**
 * `hoist release create|list|show|promote`: named sets of (application, digest) pairs, promoted together. A release's
 * promotion request is a promotion request: `hoist approve|reject|cancel ID` decide on it.
 */
import type { Release } from '../../client/index.ts';
import { InvalidInput } from '../../errors.ts';
import { parseSha256Digest } from '../../oci/digest.ts';
import { client } from '../client-config.ts';
import { EXIT_REFUSED } from '../exit-codes.ts';
import { outputFormat, print } from '../output.ts';
import { show as showPromotion } from './promote.ts';

type Out = { output?: string };

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

async function show(value: Release | Release[], f: Out): Promise<void> {
  const format = outputFormat(f.output);
  if (format !== 'table') return print(value, format);
  const rows = (Array.isArray(value) ? value : [value]).flatMap((r) =>
    r.applications.map((a) => ({
      release: r.name,
      app: a.application,
      digest: a.digest,
      from: r.from ?? '',
      createdBy: r.createdBy,
      createdAt: r.createdAt,
    })),
  );
  return print(rows, format, ['release', 'app', 'digest', 'from', 'createdBy', 'createdAt']);
}

/** `--app web=sha256:…` (repeatable) → the pairs. */
function pairsOf(apps: readonly string[]): Array<{ application: string; digest: string }> {
  return apps.map((a) => {
    const at = a.indexOf('=');
    if (at <= 0) throw new InvalidInput(`"${a}" is not APP=sha256:…`, '--app');
    const digest = a.slice(at + 1);
    parseSha256Digest(digest, '--app');
    return { application: a.slice(0, at), digest };
  });
}

export async function createCommand(
  name: string,
  f: Out & { project: string; app?: string[]; from?: string; comment?: string },
): Promise<void> {
  if ((f.app === undefined) === (f.from === undefined))
    throw new InvalidInput(
      'name the images by --app APP=sha256:… (repeatable), or take them --from an environment',
      '--app',
    );
  const release = await client().releases.create(f.project, {
    name,
    ...(f.app ? { applications: pairsOf(f.app) } : {}),
    ...(f.from ? { from: f.from } : {}),
    ...(f.comment ? { comment: f.comment } : {}),
  });
  await show(release, f);
}

export async function listCommand(f: Out & { project: string }): Promise<void> {
  await show(await client().releases.list(f.project), f);
}

export async function showCommand(name: string, f: Out & { project: string }): Promise<void> {
  const release = await client().releases.get(f.project, name);
  const format = outputFormat(f.output);
  if (format !== 'table') return print(release, format);
  await show(release, f);
  const promotions = (release.promotions ?? []).flatMap((p) =>
    p.targets.map((t) => ({
      request: p.id,
      from: p.from,
      to: t.environment,
      state: t.state,
      requestedBy: p.requestedBy,
    })),
  );
  if (promotions.length > 0) await print(promotions, format, ['request', 'from', 'to', 'state', 'requestedBy']);
}

export async function promoteCommand(
  name: string,
  f: Out & { project: string; from?: string; to: string; comment?: string },
): Promise<void> {
  const p = await client().releases.promote(f.project, name, {
    to: list(f.to),
    ...(f.from ? { from: f.from } : {}),
    ...(f.comment ? { comment: f.comment } : {}),
  });
  await showPromotion(p, f);
  if (p.targets.some((t) => t.state === 'REJECTED')) process.exitCode = EXIT_REFUSED;
}
