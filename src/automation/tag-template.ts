/**
 * Tag templates for promoted images: `%n` (the source tag) and Docker Trusted Registry's strftime placeholders,
 * evaluated in UTC, plus `{tag}`, `{digest}`, `{shortDigest}`, `{timestamp}`, `{env}` and `{app}`. A template is checked
 * when a rule is saved (unknown placeholders, and a sample rendering that is not a valid tag, are refused) and the
 * rendered tag is checked again at promotion time, when the real source tag may make it too long.
 */
import { InvalidInput } from '../errors.ts';
import { isTag } from '../oci/reference.ts';

export interface TagContext {
  tag: string;
  digest: string;
  env: string;
  app: string;
  now: Date;
}

const MAX_TAG = 128;
const MAX_TEMPLATE = 1024;
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** A Wednesday in September, in the afternoon: the longest day and month names, for the save-time check. */
export const SAMPLE_TAG_CONTEXT: Readonly<TagContext> = {
  tag: 'v1.2.3',
  digest: `sha256:${'0123456789abcdef'.repeat(4)}`,
  env: 'staging',
  app: 'web',
  now: new Date('2027-09-29T13:14:15.123Z'),
};

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function valid(d: Date): Date {
  if (Number.isNaN(d.getTime()))
    throw new InvalidInput('the time to render the tag at is not a valid date', 'tag template');
  return d;
}

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
}

type Render = (ctx: TagContext) => string;
const at =
  (f: (d: Date) => string): Render =>
  (ctx) =>
    f(valid(ctx.now));

const STRFTIME = new Map<string, Render>([
  ['n', (ctx) => ctx.tag],
  ['Y', at((d) => pad(d.getUTCFullYear(), 4))],
  ['m', at((d) => pad(d.getUTCMonth() + 1))],
  ['d', at((d) => pad(d.getUTCDate()))],
  ['H', at((d) => pad(d.getUTCHours()))],
  ['M', at((d) => pad(d.getUTCMinutes()))],
  ['S', at((d) => pad(d.getUTCSeconds()))],
  ['y', at((d) => pad(d.getUTCFullYear() % 100))],
  ['j', at((d) => pad(dayOfYear(d), 3))],
  ['a', at((d) => (DAYS[d.getUTCDay()] ?? '').slice(0, 3))],
  ['A', at((d) => DAYS[d.getUTCDay()] ?? '')],
  ['b', at((d) => (MONTHS[d.getUTCMonth()] ?? '').slice(0, 3))],
  ['B', at((d) => MONTHS[d.getUTCMonth()] ?? '')],
  ['p', at((d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'))],
  ['I', at((d) => pad(d.getUTCHours() % 12 || 12))],
  ['f', at((d) => pad(d.getUTCMilliseconds() * 1000, 6))],
  ['%', () => '%'],
]);

/** `sha256:abc…` split into algorithm and hex; anything else is refused rather than turned into a strange tag. */
function digestParts(digest: string): { algorithm: string; hex: string } {
  const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(digest);
  if (!m) throw new InvalidInput(`${JSON.stringify(digest)} is not a digest (algorithm:hex)`, 'tag template');
  return { algorithm: m[1] ?? '', hex: m[2] ?? '' };
}

const BRACED = new Map<string, Render>([
  ['tag', (ctx) => ctx.tag],
  [
    'digest',
    (ctx) => {
      const { algorithm, hex } = digestParts(ctx.digest);
      return `${algorithm}-${hex}`;
    },
  ],
  ['shortDigest', (ctx) => digestParts(ctx.digest).hex.slice(0, 12)],
  [
    'timestamp',
    at(
      (d) =>
        `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`,
    ),
  ],
  ['env', (ctx) => ctx.env],
  ['app', (ctx) => ctx.app],
]);

const KNOWN = `known: ${[...STRFTIME.keys()].map((k) => `%${k}`).join(' ')} ${[...BRACED.keys()].map((k) => `{${k}}`).join(' ')}`;

/** A template cut into literal text and placeholders; the error says which placeholder is unknown and where. */
function parse(template: string): { parts: Array<string | Render> } | { error: string } {
  const parts: Array<string | Render> = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i] ?? '';
    let render: Render | undefined;
    if (ch === '%') {
      const next = template[i + 1];
      render = next === undefined ? undefined : STRFTIME.get(next);
      if (!render)
        return {
          error: `${next === undefined ? 'a lone "%" at the end' : `unknown placeholder %${next}`} at character ${i + 1} (${KNOWN})`,
        };
      i += 1;
    } else if (ch === '{') {
      const close = template.indexOf('}', i);
      if (close < 0) return { error: `"{" at character ${i + 1} is not closed` };
      const name = template.slice(i + 1, close);
      render = BRACED.get(name);
      if (!render) return { error: `unknown placeholder {${name}} at character ${i + 1} (${KNOWN})` };
      i = close;
    }
    if (!render) literal += ch;
    else {
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(render);
    }
  }
  if (literal !== '') parts.push(literal);
  return { parts };
}

/** Why `tag` is not a valid OCI tag, or nothing. */
function tagProblem(tag: string): string | undefined {
  if (isTag(tag)) return undefined;
  if (tag === '') return 'a tag cannot be empty';
  if (tag.length > MAX_TAG) return `it is ${tag.length} characters long and a tag is at most ${MAX_TAG}`;
  const bad = [...tag].find((ch) => !/[A-Za-z0-9._-]/.test(ch));
  if (bad !== undefined)
    return `${JSON.stringify(bad)} is not allowed in a tag (only letters, digits, "_", "." and "-")`;
  return `a tag cannot start with ${JSON.stringify(tag[0])}`;
}

const quote = (s: string): string => JSON.stringify(s.length > 160 ? `${s.slice(0, 157)}…` : s);

function render(parts: Array<string | Render>, ctx: TagContext): string {
  return parts.map((p) => (typeof p === 'string' ? p : p(ctx))).join('');
}

/** The tag a template gives for one promotion; InvalidInput names the template and the bad result. */
export function renderTagTemplate(template: string, ctx: TagContext): string {
  const parsed = parse(template);
  if ('error' in parsed) throw new InvalidInput(`tag template ${quote(template)}: ${parsed.error}`);
  const tag = render(parsed.parts, ctx);
  const problem = tagProblem(tag);
  if (problem)
    throw new InvalidInput(
      `tag template ${quote(template)} gives ${quote(tag)} for tag ${quote(ctx.tag)}, which is not a valid tag: ${problem}`,
    );
  return tag;
}

/**
 * Checks a template when a rule is saved: unknown placeholders are refused, and so is a template whose rendering for a
 * typical image (SAMPLE_TAG_CONTEXT, with the rule's own env and app when given) is not a valid tag.
 */
export function validateTagTemplate(template: string, where: string, sample: Partial<TagContext> = {}): void {
  if (typeof template !== 'string') throw new InvalidInput('must be a string', where);
  if (template === '') throw new InvalidInput('the tag template is empty', where);
  if (template.length > MAX_TEMPLATE)
    throw new InvalidInput(`the tag template is longer than ${MAX_TEMPLATE} characters`, where);
  const parsed = parse(template);
  if ('error' in parsed) throw new InvalidInput(parsed.error, where);
  const ctx = { ...SAMPLE_TAG_CONTEXT, ...sample };
  const tag = render(parsed.parts, ctx);
  const problem = tagProblem(tag);
  if (problem) {
    const time = Number.isNaN(ctx.now.getTime()) ? '' : ` at ${ctx.now.toISOString()}`;
    const example = `for tag ${ctx.tag}, env ${ctx.env}, app ${ctx.app}${time}`;
    throw new InvalidInput(
      `the tag template gives ${quote(tag)} ${example}, which is not a valid tag: ${problem}`,
      where,
    );
  }
}
