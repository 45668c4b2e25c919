/**
 * What an environment is, checked the same way wherever one comes in: the API (whose schema is built from these
 * constants), the service that stores it, the config file `hoist apply` reads and the CLI's `hoist env set`.
 * An environment is a registry + repository template (`prod/{app}`), or a tag convention inside one repository
 * (`apps/{app}` with tag `{tag}-prod`).
 */
import { InvalidInput } from '../errors.ts';
import { parseWindow, type PromotionWindow } from '../automation/window.ts';
import { NAME, NAME_HINT } from './names.ts';

export const ENVIRONMENT_KINDS = ['repository', 'tag'] as const;
export type EnvironmentKind = (typeof ENVIRONMENT_KINDS)[number];
/** 90 days. */
export const MAX_SOAK_SECONDS = 90 * 86_400;

export interface EnvironmentInput {
  name: string;
  position?: number;
  kind: EnvironmentKind;
  registry: string;
  /** kind repository: `prod/{app}`; kind tag: the repository holding every stage, e.g. `apps/{app}`. */
  repository: string;
  /** kind tag only: the stage's tag convention, e.g. `prod` or `{tag}-prod`. */
  tag?: string | null;
  immutableTags?: boolean;
  allowTagMove?: boolean;
  protected?: boolean;
  /** An artifact may leave this environment only after it has been here this many seconds. */
  soakSeconds?: number;
  /** When promotions may enter (none: always). */
  windows?: PromotionWindow[] | null;
}

const TEMPLATE_PATH =
  /^(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*|\{app\})(?:\/(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*|\{app\}))*$/;
const TAG_TEMPLATE = /^(?:[\w.-]|\{(?:app|tag)\})+$/;

export const isEnvironmentKind = (v: unknown): v is EnvironmentKind =>
  typeof v === 'string' && (ENVIRONMENT_KINDS as readonly string[]).includes(v);

/** Throws InvalidInput naming the field that is wrong. */
export function checkEnvironment(e: EnvironmentInput): void {
  if (!NAME.test(e.name)) throw new InvalidInput(NAME_HINT, 'name');
  if (!isEnvironmentKind(e.kind)) throw new InvalidInput('"repository" or "tag"', 'kind');
  if (!TEMPLATE_PATH.test(e.repository))
    throw new InvalidInput(
      `"${e.repository}" is not a repository template (path components, {app} allowed, e.g. prod/{app})`,
      'repository',
    );
  if (e.kind === 'tag' && (e.tag === undefined || e.tag === null || !TAG_TEMPLATE.test(e.tag)))
    throw new InvalidInput('kind tag needs a tag convention such as "prod" or "{tag}-prod"', 'tag');
  if (e.kind === 'repository' && e.tag !== undefined && e.tag !== null)
    throw new InvalidInput('only kind tag has a tag convention', 'tag');
  if (
    e.soakSeconds !== undefined &&
    (!Number.isInteger(e.soakSeconds) || e.soakSeconds < 0 || e.soakSeconds > MAX_SOAK_SECONDS)
  ) {
    throw new InvalidInput(`give whole seconds between 0 and ${MAX_SOAK_SECONDS} (90 days)`, 'soakSeconds');
  }
  e.windows?.forEach((w, i) => parseWindow(w, `windows[${i}]`));
}
