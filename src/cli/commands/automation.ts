/**
 * `hoist rule|binding|window|quarantine|unquarantine|watch|events` and `hoist registry hook-secret`: the automation
 * around promotions, thin over the API client.
 */
import { parseCriterionFlag } from '../../automation/criteria.ts';
import { parseWindowSpec } from '../../automation/window.ts';
import { InvalidInput } from '../../errors.ts';
import { loadYamlFile } from '../../config/yaml-input.ts';
import type { HookKind, RuleInput, RuleMode } from '../../client/index.ts';
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';
import { follow, noteMore, rowsWanted, type ListFlags } from '../paging.ts';
import { readSecret } from '../read-secret.ts';

type Flags = { output?: string };
const out = (f: Flags) => outputFormat(f.output);

export interface RuleFlags extends Flags {
  project: string;
  file?: string;
  app?: string;
  from?: string;
  to?: string;
  criterion?: string[];
  cel?: string;
  tagTemplate?: string;
  mode?: string;
  dryRun?: boolean;
}

/** A rule from flags, or from a YAML file (`name, application, from, to, criteria, cel, tagTemplate, mode`) that flags override. */
function ruleInput(name: string | undefined, f: RuleFlags): RuleInput {
  const file = f.file !== undefined ? (loadYamlFile(f.file, '--file') as Partial<RuleInput> | null) : {};
  if (file === null || typeof file !== 'object' || Array.isArray(file))
    throw new InvalidInput('the file must hold one rule (a mapping: name, from, to, criteria, …)', f.file);
  const chosen = name ?? file.name;
  if (chosen === undefined)
    throw new InvalidInput('name the rule (hoist rule create NAME, or name: in the file)', 'name');
  const from = f.from ?? file.from;
  const to = f.to ?? file.to;
  if (from === undefined || to === undefined)
    throw new InvalidInput(
      'say where from and where to (--from dev --to staging)',
      from === undefined ? '--from' : '--to',
    );
  const input: RuleInput = { ...file, name: chosen, from, to };
  const app = f.app ?? file.application;
  if (app !== undefined) input.application = app;
  if (f.criterion && f.criterion.length > 0)
    input.criteria = [
      ...((file.criteria as unknown[] | undefined) ?? []),
      ...f.criterion.map((c, i) => parseCriterionFlag(c, `--criterion ${i + 1}`)),
    ];
  if (f.cel !== undefined) input.cel = f.cel;
  if (f.tagTemplate !== undefined) input.tagTemplate = f.tagTemplate;
  if (f.mode !== undefined) {
    if (f.mode !== 'promote' && f.mode !== 'request')
      throw new InvalidInput(`"${f.mode}" is not promote or request`, '--mode');
    input.mode = f.mode as RuleMode;
  }
  return input;
}

export const rule = {
  create: async (name: string | undefined, f: RuleFlags) => {
    const input = ruleInput(name, f);
    if (f.dryRun) {
      const r = await client().rules.dryRun(f.project, input);
      process.stderr.write(`compiled: ${r.expression}\n`);
      await print(r.artifacts, out(f), ['application', 'digest', 'tag', 'matches', 'error']);
      return;
    }
    await print(await client().rules.create(f.project, input), out(f));
  },
  list: async (f: Flags & { project: string }) =>
    print(await client().rules.list(f.project), out(f), [
      'name',
      'application',
      'from',
      'to',
      'mode',
      'tagTemplate',
      'expression',
    ]),
  show: async (name: string, f: Flags & { project: string }) =>
    print(await client().rules.get(f.project, name), out(f)),
  remove: async (name: string, f: { project: string }) => client().rules.remove(f.project, name),
};

export const binding = {
  set: async (
    app: string,
    f: Flags & { project: string; env: string; trackLatest?: boolean; pin?: string; comment?: string },
  ) => {
    if ((f.trackLatest ?? false) === (f.pin !== undefined))
      throw new InvalidInput('choose one: --track-latest or --pin sha256:…', '--track-latest/--pin');
    const r = await client().bindings.set(
      f.project,
      app,
      f.env,
      f.pin !== undefined
        ? { mode: 'pin', digest: f.pin, ...(f.comment ? { comment: f.comment } : {}) }
        : { mode: 'track-latest' },
    );
    if (r.promotion)
      process.stderr.write(
        `pinning opened promotion ${r.promotion.id}: ${r.promotion.targets.map((t) => `${t.environment} ${t.state}`).join(', ')}\n`,
      );
    await print(r.binding, out(f));
  },
  list: async (f: Flags & { project: string }) =>
    print(await client().bindings.list(f.project), out(f), [
      'application',
      'environment',
      'mode',
      'pinnedDigest',
      'current',
      'updatedBy',
      'updatedAt',
    ]),
  remove: async (app: string, f: { project: string; env: string }) => client().bindings.remove(f.project, app, f.env),
};

export const window = {
  set: async (env: string, f: Flags & { project: string; window?: string[]; always?: boolean }) => {
    if ((f.window ?? []).length === 0 && !f.always)
      throw new InvalidInput(
        'give --window "mon-fri 09:00-17:00 Europe/Berlin" (repeatable), or --always to remove every window',
        '--window',
      );
    const windows = f.always ? [] : (f.window ?? []).map((w, i) => parseWindowSpec(w, `--window ${i + 1}`));
    await print(await client().windows.set(f.project, env, windows), out(f));
  },
};

export const quarantine = {
  add: async (digest: string | undefined, f: Flags & { reason?: string }) => {
    if (digest === undefined) return print(await client().quarantine.list(), out(f), ['digest', 'reason', 'by', 'at']);
    if (f.reason === undefined) throw new InvalidInput('say why (--reason "CVE-2026-1234 in libfoo")', '--reason');
    const r = await client().quarantine.add(digest, f.reason);
    if (r.rejected > 0) process.stderr.write(`${r.rejected} open promotion target(s) of this digest were rejected\n`);
    return print(r.quarantine, out(f));
  },
  lift: async (digest: string, f: { comment?: string }) => client().quarantine.lift(digest, f.comment),
};

export const watch = {
  add: async (repository: string, f: Flags & { interval?: string }) => {
    const seconds = f.interval === undefined ? undefined : Number(f.interval);
    if (seconds !== undefined && !Number.isInteger(seconds))
      throw new InvalidInput(`"${f.interval}" is not whole seconds`, '--interval');
    await print(await client().watches.add(repository, seconds), out(f));
  },
  list: async (f: Flags) =>
    print(
      (await client().watches.list()).map((w) => ({
        ...w,
        found: w.lastResult
          ? `${w.lastResult.added.length} new, ${w.lastResult.moved.length} moved${w.lastResult.error ? `; error: ${w.lastResult.error}` : ''}`
          : '',
      })),
      out(f),
      ['id', 'registry', 'repository', 'intervalSeconds', 'tags', 'lastCheckedAt', 'found'],
    ),
  remove: async (id: string) => client().watches.remove(id),
};

export const events = {
  list: async (f: Flags & ListFlags) => {
    const c = client();
    const { items, more } = await follow((page) => c.events.page(page), rowsWanted(f));
    await print(items, out(f), ['receivedAt', 'registry', 'source', 'repository', 'tag', 'digest', 'state', 'outcome']);
    noteMore(items.length, more);
  },
  setSecret: async (registry: string, f: Flags & { kind: string; secretStdin?: boolean }) => {
    if (!['distribution', 'harbor', 'generic'].includes(f.kind))
      throw new InvalidInput(`"${f.kind}" is not distribution, harbor or generic`, '--kind');
    const secret = f.secretStdin ? await readSecret('hook secret: ', true) : undefined;
    const r = await client().events.setSecret(registry, f.kind as HookKind, secret);
    if (r.secret !== undefined)
      process.stderr.write(`configure the registry to send "Authorization: Bearer ${r.secret}" (shown once)\n`);
    await print(r, out(f));
  },
};
