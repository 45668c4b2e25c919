/**
 * Auto-promotion criteria in Docker Trusted Registry style (tag, label, vulnerability counts, licenses, components,
 * signature, raw CEL), compiled to ONE CEL condition — every criterion parenthesised and ANDed — that hoist shows to
 * the user and runs with the ordinary policy engine. Also validates criteria from hostile JSON/YAML and from CLI flags.
 *
 * Missing evidence never satisfies a criterion: a vulnerability criterion needs a scan report (no report is not zero
 * vulnerabilities), and license and "component absent" criteria need the SBOM list they talk about to be non-empty
 * (the policy variables cannot tell a missing SBOM from an empty one).
 */
import { InvalidInput } from '../errors.ts';
import { compileCondition } from '../policy/condition.ts';
import { re2Problem } from '../policy/regex.ts';

export type Criterion =
  | { field: 'tag'; op: 'equals' | 'startsWith' | 'endsWith' | 'contains' | 'matches'; value: string }
  | { field: 'tag'; op: 'oneOf' | 'notOneOf'; values: string[] }
  | { field: 'label'; name: string; op: LabelOp; value?: string }
  | { field: 'vulnerabilities'; severity: Severity; op: Comparison; value: number }
  | { field: 'license'; op: 'oneOf' | 'notOneOf'; values: string[] }
  | { field: 'component'; op: 'present' | 'absent'; name: string }
  | { field: 'signature'; op: 'present' }
  | { field: 'cel'; expression: string };

type LabelOp = 'equals' | 'notEquals' | 'startsWith' | 'endsWith' | 'contains' | 'matches' | 'present' | 'absent';
type Severity = 'critical' | 'high' | 'medium' | 'low';
type Comparison = '<' | '<=' | '=' | '!=' | '>=' | '>';
type StringOp = 'equals' | 'notEquals' | 'startsWith' | 'endsWith' | 'contains' | 'matches';

const FIELDS = ['tag', 'label', 'vulnerabilities', 'license', 'component', 'signature', 'cel'] as const;
const TAG_VALUE_OPS = ['equals', 'startsWith', 'endsWith', 'contains', 'matches'] as const;
const LIST_OPS = ['oneOf', 'notOneOf'] as const;
const TAG_OPS = [...TAG_VALUE_OPS, ...LIST_OPS] as const;
const LABEL_OPS = [
  'equals',
  'notEquals',
  'startsWith',
  'endsWith',
  'contains',
  'matches',
  'present',
  'absent',
] as const;
const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
const COMPARISONS = ['<', '<=', '=', '!=', '>=', '>'] as const;
const PRESENCE = ['present', 'absent'] as const;

const MAX_CRITERIA = 32;
const MAX_VALUES = 100;
const MAX_STRING = 1024;
/** RE2 refuses repetition counts above 1000; JavaScript would accept them. */
const MAX_REPEAT = 1000;

// ---------------------------------------------------------------------------------------------------- compiling

/** A CEL string literal for any string: quotes, backslashes and control characters escaped. */
export function celString(s: string): string {
  const named: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  const body = s.replace(
    // eslint-disable-next-line no-control-regex
    /[\\"\u0000-\u001f\u007f-\u009f]/g,
    (ch) => named[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `"${body}"`;
}

const celList = (values: readonly string[]): string => `[${values.map(celString).join(', ')}]`;

function stringTest(subject: string, op: StringOp, value: string): string {
  const lit = celString(value);
  switch (op) {
    case 'equals':
      return `${subject} == ${lit}`;
    case 'notEquals':
      return `${subject} != ${lit}`;
    case 'startsWith':
    case 'endsWith':
    case 'contains':
    case 'matches':
      return `${subject}.${op}(${lit})`;
  }
}

function labelTest(c: Extract<Criterion, { field: 'label' }>): string {
  const has = `${celString(c.name)} in image.labels`;
  const value = `image.labels[${celString(c.name)}]`;
  if (c.op === 'present') return has;
  if (c.op === 'absent') return `!(${has})`;
  if (c.value === undefined) throw new InvalidInput(`a label ${c.op} criterion needs a value`, 'label');
  // Indexing a missing key is an error in CEL, so every test of the value is guarded by `in`.
  if (c.op === 'notEquals') return `!(${has}) || ${stringTest(value, c.op, c.value)}`;
  return `${has} && ${stringTest(value, c.op, c.value)}`;
}

/** A user's CEL, ready to be parenthesised: a trailing `//` comment must not swallow the closing parenthesis. */
function celCriterion(expression: string): string {
  const trimmed = expression.trim();
  return (trimmed.split('\n').at(-1) ?? '').includes('//') ? `${trimmed}\n` : trimmed;
}

function compileCriterion(c: Criterion): string {
  switch (c.field) {
    case 'tag':
      if ('values' in c)
        return c.op === 'oneOf' ? `image.tag in ${celList(c.values)}` : `!(image.tag in ${celList(c.values)})`;
      return stringTest('image.tag', c.op, c.value);
    case 'label':
      return labelTest(c);
    case 'vulnerabilities':
      return `scan.present && scan.${c.severity} ${c.op === '=' ? '==' : c.op} ${Math.trunc(c.value)}`;
    case 'license':
      return c.op === 'oneOf'
        ? `size(sbom.licenses) > 0 && sbom.licenses.all(l, l in ${celList(c.values)})`
        : `size(sbom.licenses) > 0 && !sbom.licenses.exists(l, l in ${celList(c.values)})`;
    case 'component':
      return c.op === 'present'
        ? `${celString(c.name)} in sbom.components`
        : `size(sbom.components) > 0 && !(${celString(c.name)} in sbom.components)`;
    case 'signature':
      return 'signature.present';
    case 'cel':
      return celCriterion(c.expression);
  }
}

/** The one CEL condition for a list of criteria: `true` for none, else each parenthesised and joined with `&&`. */
export function compileCriteria(criteria: Criterion[]): string {
  if (criteria.length === 0) return 'true';
  return criteria.map((c) => `(${compileCriterion(c)})`).join(' && ');
}

// ---------------------------------------------------------------------------------------------------- describing

const show = (s: string): string => (/^[\w.\-/:@+^$*?[\]|()\\{},]+$/.test(s) ? s : JSON.stringify(s));
const showList = (values: readonly string[]): string => values.map(show).join(', ');
const WORDS: Record<StringOp, string> = {
  equals: 'is',
  notEquals: 'is not',
  startsWith: 'starts with',
  endsWith: 'ends with',
  contains: 'contains',
  matches: 'matches',
};

/** Human text for one criterion, e.g. `tag starts with v`. */
export function describeCriterion(c: Criterion): string {
  switch (c.field) {
    case 'tag':
      if ('values' in c) return `tag is ${c.op === 'oneOf' ? '' : 'not '}one of ${showList(c.values)}`;
      return `tag ${WORDS[c.op]} ${show(c.value)}`;
    case 'label':
      if (c.op === 'present' || c.op === 'absent') return `label ${show(c.name)} is ${c.op}`;
      return `label ${show(c.name)} ${WORDS[c.op]} ${show(c.value ?? '')}${c.op === 'notEquals' ? ' (or is absent)' : ''}`;
    case 'vulnerabilities':
      return `a scan report with ${c.severity} vulnerabilities ${c.op} ${c.value}`;
    case 'license':
      return c.op === 'oneOf'
        ? `every SBOM license is one of ${showList(c.values)}`
        : `no SBOM license is one of ${showList(c.values)}`;
    case 'component':
      return c.op === 'present'
        ? `the SBOM lists component ${show(c.name)}`
        : `the SBOM does not list component ${show(c.name)}`;
    case 'signature':
      return 'the image is signed';
    case 'cel':
      return `CEL: ${c.expression.trim()}`;
  }
}

// ---------------------------------------------------------------------------------------------------- validating

/** A validation failure at a path inside one criterion (`.op`), turned into InvalidInput by the public entry points. */
class Problem extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;

function brief(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? typeof v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function pick<T extends string>(o: Obj, key: string, allowed: readonly T[]): T {
  const v = o[key];
  if (v === undefined) throw new Problem(`.${key}`, `is required (one of ${allowed.join(', ')})`);
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw new Problem(`.${key}`, `${brief(v)} is not one of ${allowed.join(', ')}`);
  return v as T;
}

function checkText(v: unknown, path: string): string {
  if (typeof v !== 'string')
    throw new Problem(path, v === undefined ? 'is required' : `must be a string, not ${brief(v)}`);
  if (v === '') throw new Problem(path, 'must not be empty');
  if (v.length > MAX_STRING) throw new Problem(path, `is longer than ${MAX_STRING} characters`);
  if (/\p{Surrogate}/u.test(v)) throw new Problem(path, 'contains a lone UTF-16 surrogate');
  return v;
}

const text = (o: Obj, key: string): string => checkText(o[key], `.${key}`);

function textList(o: Obj, key: string): string[] {
  const v = o[key];
  if (!Array.isArray(v))
    throw new Problem(
      `.${key}`,
      v === undefined ? 'is required (a list of strings)' : `must be a list of strings, not ${brief(v)}`,
    );
  if (v.length === 0) throw new Problem(`.${key}`, 'must not be empty');
  if (v.length > MAX_VALUES) throw new Problem(`.${key}`, `has more than ${MAX_VALUES} entries`);
  return v.map((item: unknown, i) => checkText(item, `.${key}[${i}]`));
}

function count(o: Obj, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new Problem(`.${key}`, `must be a whole number ≥ 0, not ${brief(v)}`);
  return v;
}

function onlyKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key))
      throw new Problem(`.${key}`, `is not a key of a ${field} criterion (${allowed.join(', ')})`);
  }
}

const REGEX_ESCAPES = new Set('dDwWsSbBtnrfv');

/** The escape at `i` (just after the backslash): why RE2 and JavaScript would not agree on it, or nothing. */
function badEscape(p: string, i: number, inClass: boolean): string | undefined {
  const ch = p[i] ?? '';
  if (/[1-9]/.test(ch)) return `\\${ch} is a backreference, which RE2 does not support`;
  if (ch === 'k') return '\\k<…> is a backreference, which RE2 does not support';
  if (ch === 'x')
    return /^[0-9a-fA-F]{2}$/.test(p.slice(i + 1, i + 3)) ? undefined : '\\x must be followed by two hex digits';
  if (inClass && (ch === 'b' || ch === 'B')) return `\\${ch} inside [...] means different things in RE2 and JavaScript`;
  if (REGEX_ESCAPES.has(ch) || /^[!-/:-@[-`{-~]$/.test(ch)) return undefined;
  return `\\${ch} is not supported (RE2 and JavaScript disagree on it); use the character itself or a [...] class`;
}

/** What `(?` at `i` opens: refused unless it is a plain or named group. */
function badGroup(p: string, i: number): string | undefined {
  const rest = p.slice(i + 2);
  if (rest.startsWith('<=') || rest.startsWith('<!')) return 'lookbehind (?<= / (?<! is not supported by RE2';
  if (rest.startsWith('=') || rest.startsWith('!')) return 'lookahead (?= / (?! is not supported by RE2';
  if (rest.startsWith('P<')) return 'use (?<name>…) rather than (?P<name>…), which JavaScript does not know';
  if (rest.startsWith(':') || rest.startsWith('<')) return undefined;
  return 'inline flags such as (?i) are not supported; use classes such as [Vv]';
}

/** Refuses a pattern RE2 (which runs it) refuses, or that JavaScript's engine would read differently. */
export function regexProblem(pattern: string): string | undefined {
  const unsupported = unsupportedRegex(pattern);
  if (unsupported) return unsupported;
  return re2Problem(pattern);
}

/** The first construct in `pattern` that RE2 lacks or reads differently from JavaScript. */
function unsupportedRegex(pattern: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const bad = badEscape(pattern, i + 1, inClass);
      if (bad) return bad;
      i++;
    } else if (inClass) {
      if (ch === ']') inClass = false;
      else if (ch === '[' && pattern[i + 1] === ':') return 'POSIX classes such as [[:alpha:]] are not supported';
    } else if (ch === '[') {
      inClass = true;
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') return 'a "]" first in [...] means different things in RE2 and JavaScript; write \\]';
    } else if (ch === '(' && pattern[i + 1] === '?') {
      const bad = badGroup(pattern, i);
      if (bad) return bad;
    } else if (ch === '{') {
      const repeat = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
      if (repeat && Math.max(Number(repeat[1]), Number(repeat[2] ?? 0)) > MAX_REPEAT)
        return `repetition counts above ${MAX_REPEAT} are not supported by RE2`;
    }
  }
  return undefined;
}

function regexValue(v: string, path: string): string {
  const bad = regexProblem(v);
  if (bad) throw new Problem(path, bad);
  return v;
}

function tagCriterion(o: Obj): Criterion {
  const op = pick(o, 'op', TAG_OPS);
  if (op === 'oneOf' || op === 'notOneOf') {
    onlyKeys(o, 'tag', ['field', 'op', 'values']);
    return { field: 'tag', op, values: textList(o, 'values') };
  }
  onlyKeys(o, 'tag', ['field', 'op', 'value']);
  const value = text(o, 'value');
  return { field: 'tag', op, value: op === 'matches' ? regexValue(value, '.value') : value };
}

function labelCriterion(o: Obj): Criterion {
  const name = text(o, 'name');
  const op = pick(o, 'op', LABEL_OPS);
  if (op === 'present' || op === 'absent') {
    onlyKeys(o, 'label', ['field', 'name', 'op']);
    return { field: 'label', name, op };
  }
  onlyKeys(o, 'label', ['field', 'name', 'op', 'value']);
  const value = text(o, 'value');
  return { field: 'label', name, op, value: op === 'matches' ? regexValue(value, '.value') : value };
}

function celExpression(o: Obj): Criterion {
  onlyKeys(o, 'cel', ['field', 'expression']);
  const expression = text(o, 'expression');
  const compiled = compileCondition(expression);
  if (!compiled.ok) throw new Problem('.expression', compiled.error);
  return { field: 'cel', expression: expression.trim() };
}

function criterionFrom(o: Obj): Criterion {
  const field = pick(o, 'field', FIELDS);
  switch (field) {
    case 'tag':
      return tagCriterion(o);
    case 'label':
      return labelCriterion(o);
    case 'vulnerabilities':
      onlyKeys(o, field, ['field', 'severity', 'op', 'value']);
      return {
        field,
        severity: pick(o, 'severity', SEVERITIES),
        op: pick(o, 'op', COMPARISONS),
        value: count(o, 'value'),
      };
    case 'license':
      onlyKeys(o, field, ['field', 'op', 'values']);
      return { field, op: pick(o, 'op', LIST_OPS), values: textList(o, 'values') };
    case 'component':
      onlyKeys(o, field, ['field', 'op', 'name']);
      return { field, op: pick(o, 'op', PRESENCE), name: text(o, 'name') };
    case 'signature':
      onlyKeys(o, field, ['field', 'op']);
      return { field, op: pick(o, 'op', ['present'] as const) };
    case 'cel':
      return celExpression(o);
  }
}

function criterionOf(v: unknown): Criterion {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Problem('', `must be an object with a field, not ${brief(v)}`);
  return criterionFrom(v as Obj);
}

function compiles(criteria: Criterion[]): string | undefined {
  const compiled = compileCondition(compileCriteria(criteria));
  return compiled.ok ? undefined : `the criteria do not compile to a valid condition: ${compiled.error}`;
}

/** Validates criteria from JSON or YAML; InvalidInput names the entry and key, e.g. `criteria[2].op`. */
export function parseCriteria(input: unknown, where: string): Criterion[] {
  if (!Array.isArray(input)) throw new InvalidInput(`must be a list of criteria, not ${brief(input)}`, where);
  if (input.length > MAX_CRITERIA) throw new InvalidInput(`has more than ${MAX_CRITERIA} criteria`, where);
  const criteria = input.map((item: unknown, i) => {
    try {
      return criterionOf(item);
    } catch (e) {
      if (e instanceof Problem) throw new InvalidInput(e.message, `${where}[${i}]${e.path}`);
      throw e;
    }
  });
  const problem = compiles(criteria);
  if (problem) throw new InvalidInput(problem, where);
  return criteria;
}

// ---------------------------------------------------------------------------------------------------- CLI flags

const FLAG_USAGE =
  'e.g. "tag startsWith v", "tag oneOf a,b", "label team=shop", "label team present", "critical <= 0", ' +
  '"license notOneOf GPL-3.0", "component absent log4j-core", "signature present" or "cel <expression>"';

/** The canonical spelling of `word` among `allowed`, matched without regard to case. */
function keyword<T extends string>(word: string, allowed: readonly T[], what: string): T {
  const found = allowed.find((a) => a.toLowerCase() === word.toLowerCase());
  if (found === undefined)
    throw new Problem(
      '',
      `${word === '' ? 'a missing' : JSON.stringify(word)} ${what} is not one of ${allowed.join(', ')}`,
    );
  return found;
}

/** Splits `first rest…` at the first run of spaces. */
function head(s: string): [string, string] {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(s.trim());
  return [m?.[1] ?? '', m?.[2] ?? ''];
}

const commaList = (s: string): string[] => s.split(',').map((v) => v.trim());

function tagFlag(rest: string): Obj {
  const [opWord, value] = head(rest);
  const op = keyword(opWord, TAG_OPS, 'tag operator');
  return op === 'oneOf' || op === 'notOneOf'
    ? { field: 'tag', op, values: commaList(value) }
    : { field: 'tag', op, value };
}

function labelFlag(rest: string): Obj {
  const assignment = /^([^\s=!]+)\s*(!?=)\s*([\s\S]*)$/.exec(rest.trim());
  if (assignment)
    return {
      field: 'label',
      name: assignment[1],
      op: assignment[2] === '=' ? 'equals' : 'notEquals',
      value: assignment[3],
    };
  const [name, afterName] = head(rest);
  const [opWord, value] = head(afterName);
  const op = keyword(opWord, LABEL_OPS, 'label operator');
  if (op === 'present' || op === 'absent') {
    if (value !== '') throw new Problem('', `label ${op} takes no value, but ${JSON.stringify(value)} follows`);
    return { field: 'label', name, op };
  }
  return { field: 'label', name, op, value };
}

function vulnerabilityFlag(severity: Severity, rest: string): Obj {
  const m = /^(<=|>=|!=|==|=|<|>)\s*(\S*)$/.exec(rest.trim());
  if (!m) throw new Problem('', `expected a comparison (<, <=, =, !=, >=, >) and a count, e.g. "${severity} <= 0"`);
  const value = m[2] ?? '';
  if (!/^\d{1,15}$/.test(value))
    throw new Problem('', `the count must be a whole number ≥ 0, not ${JSON.stringify(value)}`);
  return { field: 'vulnerabilities', severity, op: m[1] === '==' ? '=' : m[1], value: Number(value) };
}

function flagObject(flag: string): Obj {
  // The field word ends at a space or at a comparison, so `high<3` reads like `high < 3`.
  const m = /^([^\s<>=!]*)\s*([\s\S]*)$/.exec(flag.trim());
  const [word, rest] = [m?.[1] ?? '', m?.[2] ?? ''];
  const field = keyword(word, [...FIELDS.filter((f) => f !== 'vulnerabilities'), ...SEVERITIES], 'criterion');
  switch (field) {
    case 'tag':
      return tagFlag(rest);
    case 'label':
      return labelFlag(rest);
    case 'critical':
    case 'high':
    case 'medium':
    case 'low':
      return vulnerabilityFlag(field, rest);
    case 'license': {
      const [opWord, values] = head(rest);
      return { field, op: keyword(opWord, LIST_OPS, 'license operator'), values: commaList(values) };
    }
    case 'component': {
      const [opWord, name] = head(rest);
      return { field, op: keyword(opWord, PRESENCE, 'component operator'), name };
    }
    case 'signature':
      return { field, op: keyword(rest, ['present'] as const, 'signature operator') };
    case 'cel':
      return { field, expression: rest };
  }
}

/** Parses one CLI criterion such as `tag startsWith v` or `critical <= 0`; InvalidInput quotes the flag. */
export function parseCriterionFlag(flag: string, where: string): Criterion {
  const fail = (e: unknown, usage: string): never => {
    if (!(e instanceof Problem)) throw e;
    const key = e.path === '' ? '' : ` (${e.path.slice(1)})`;
    throw new InvalidInput(`${JSON.stringify(flag)}${key}: ${e.message}${usage}`, where);
  };
  let object: Obj = {};
  try {
    object = flagObject(flag);
  } catch (e) {
    fail(e, `; ${FLAG_USAGE}`);
  }
  try {
    const criterion = criterionOf(object);
    const problem = compiles([criterion]);
    if (problem) throw new Problem('', problem);
    return criterion;
  } catch (e) {
    return fail(e, '');
  }
}
