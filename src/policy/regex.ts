/**
 * CEL's `matches` with RE2 semantics, as the CEL specification says: linear-time matching through re2js (a pure
 * JavaScript port of RE2/J), so no pattern and no input can make a match backtrack for seconds, as JavaScript's own
 * engine does with `^(a+)+$` on `aaaa…!`. Constructs RE2 lacks (backreferences, lookaround) are refused with a
 * message saying so. Compiled patterns are cached, since saved rules run the same few patterns on every push event.
 *
 * Linear is not cheap: a search steps every instruction of the pattern that is alive over every character, so
 * `\pL{1000}` (1,002 instructions) over a 40,000-character label held the event loop for 2.5 s, and an image config
 * may carry megabytes of labels. A match cannot be interrupted, so its work (instructions × characters) is bounded
 * before it starts: over MAX_MATCH_WORK it is refused with an error, and a condition that needed it denies.
 */
import { RE2JS } from 're2js';

const MAX_PATTERN = 1024;
const CACHE_LIMIT = 1000;
/**
 * The most work one match may do, in instructions × characters. The worst patterns measured (1,000-fold Unicode
 * classes) take up to 64 ms at this bound, cold, with the 2-core machine at load 9.6; a tag (128 characters) is never
 * refused with a pattern of up to 780 instructions.
 */
export const MAX_MATCH_WORK = 100_000;
const cache = new Map<string, RE2JS | string>();

/** Why RE2 refuses `pattern`, in words that point at the usual cause; re2js's own message last. */
function explain(pattern: string, message: string): string {
  if (/\\[1-9]|\\k</.test(pattern)) return 'backreferences (\\1, \\k<name>) are not supported by RE2';
  if (/\(\?<?[=!]/.test(pattern)) return 'lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported by RE2';
  return `not a valid regular expression (RE2 syntax): ${message.replace(/^error parsing regexp: /, '')}`;
}

function compile(pattern: string): RE2JS | string {
  if (pattern.length > MAX_PATTERN) return `a regular expression is limited to ${MAX_PATTERN} characters`;
  try {
    return RE2JS.compile(pattern);
  } catch (e) {
    return explain(pattern, (e as Error).message);
  }
}

function compiled(pattern: string): RE2JS | string {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** Why `pattern` is not an RE2 regular expression hoist accepts, or undefined when it is. */
export function re2Problem(pattern: string): string | undefined {
  const re = compiled(pattern);
  return typeof re === 'string' ? re : undefined;
}

function compiledOrThrow(pattern: string): RE2JS {
  const re = compiled(pattern);
  if (typeof re === 'string') throw new Error(re);
  return re;
}

/**
 * The work a match of `pattern` over `text` will do at most (instructions × characters). Throws on a bad pattern, and
 * on work over MAX_MATCH_WORK, with the figures.
 */
export function re2MatchWork(text: string, pattern: string): number {
  const size = compiledOrThrow(pattern).programSize();
  const work = size * (text.length + 1);
  if (work > MAX_MATCH_WORK)
    throw new Error(
      `matches on ${text.length.toLocaleString('en')} characters with a pattern of ${size.toLocaleString('en')} instructions is over the limit of ${MAX_MATCH_WORK.toLocaleString('en')} (characters × instructions): use a simpler pattern or test a shorter string`,
    );
  return work;
}

/**
 * CEL `text.matches(pattern)`: true when the RE2 pattern matches any part of `text`. Throws on a bad pattern, and on
 * a match whose work would be over MAX_MATCH_WORK (before doing any of it).
 */
export function re2Matches(text: string, pattern: string): boolean {
  re2MatchWork(text, pattern);
  return compiledOrThrow(pattern).test(text);
}
