/**
 * `hoist copy`'s options, one table for both readers: commander, which defines the command with them
 * (copy-command.ts: help, usage errors, every spelling commander accepts), and readCopyArgs, which reads a plain copy's
 * arguments without commander at all. Loading commander and letting it parse was 4-9 ms of a copy's start-up (load
 * ~10; bench:copy (g)), about a tenth of a copy that finds the image present. Nothing here imports commander.
 */
import type { CopyFlags } from './commands/copy.ts';
import { collect, INSECURE_REGISTRY_DESCRIPTION, INSECURE_REGISTRY_FLAGS } from './registry-flags.ts';

export interface CopyOption {
  /** As commander spells it: `[-s, ]--long[ <value>]`; `--no-x` sets x false (x is true unless given). */
  flags: string;
  description: string;
  default?: string;
  /** Given more than once, the values collect into a list. */
  repeatable?: true;
}

export const COPY_OPTIONS: readonly CopyOption[] = [
  {
    flags: '--src-creds <user:pass>',
    description: 'credentials for the source registry (default: docker config.json)',
  },
  {
    flags: '--dest-creds <user:pass>',
    description: 'credentials for the destination registry (default: docker config.json)',
  },
  { flags: INSECURE_REGISTRY_FLAGS, description: INSECURE_REGISTRY_DESCRIPTION, repeatable: true },
  { flags: '--concurrency <n>', description: 'blob transfers at once', default: '6' },
  { flags: '--tag <tag>', description: 'also write this tag at the destination (repeatable)', repeatable: true },
  { flags: '--no-referrers', description: 'do not copy signatures, SBOMs and other referrers' },
  { flags: '--json', description: 'print the result as JSON on stdout' },
  { flags: '-q, --quiet', description: 'no progress output' },
];

interface Spelling {
  option: CopyOption;
  /** The flags' property, camel-cased as commander names it (`--src-creds` → srcCreds, `--no-referrers` → referrers). */
  key: string;
  takesValue: boolean;
  negated: boolean;
}

function spellings(): Map<string, Spelling> {
  const byName = new Map<string, Spelling>();
  for (const option of COPY_OPTIONS) {
    const [names = '', value] = option.flags.split(' <');
    const long = names.split(', ').find((n) => n.startsWith('--')) ?? '';
    const negated = long.startsWith('--no-');
    const key = long.slice(negated ? 5 : 2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    for (const name of names.split(', ')) byName.set(name, { option, key, takesValue: value !== undefined, negated });
  }
  return byName;
}

/** The flags commander answers when none is given: the defaults, and true for every `--no-` option. */
function defaults(byName: Map<string, Spelling>): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const s of byName.values()) {
    if (s.option.default !== undefined) flags[s.key] = s.option.default;
    if (s.negated) flags[s.key] = true;
  }
  return flags;
}

/**
 * `copy SRC DST` and its options as commander would read them, when they are plain: every option spelled as in the
 * table (`--name value`, `--name=value` or the short flag alone), no value that starts with `-`, exactly two
 * arguments. Anything else (help, version, `--`, an unknown or incomplete option, a missing argument) answers
 * undefined, and commander reads the arguments, with its own messages.
 */
export function readCopyArgs(argv: readonly string[]): { src: string; dst: string; flags: CopyFlags } | undefined {
  if (argv[0] !== 'copy') return undefined;
  const byName = spellings();
  const flags = defaults(byName);
  const positional: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const spelling = byName.get(eq === -1 ? arg : arg.slice(0, eq));
    if (!spelling) return undefined;
    if (!spelling.takesValue) {
      if (eq !== -1) return undefined;
      flags[spelling.key] = !spelling.negated;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq === -1 && value.startsWith('-'))) return undefined;
    flags[spelling.key] = spelling.option.repeatable
      ? collect(value, flags[spelling.key] as string[] | undefined)
      : value;
  }
  const [src, dst] = positional;
  if (positional.length !== 2 || src === undefined || dst === undefined) return undefined;
  return { src, dst, flags: flags as unknown as CopyFlags };
}
