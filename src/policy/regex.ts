/**
 * CEL's `matches` with RE2 semantics, as the CEL specification says: linear-time matching through re2js (a pure
 * JavaScript port of RE2/J), so no pattern and no input can make a match backtrack for seconds, as JavaScript's own
 * engine does with `^(a+)+$` on `aaaa…!`. Constructs RE2 lacks (backreferences, lookaround) are refused with a
 * message saying so. Compiled patterns are cached, since saved rules run the same few patterns on every push event.
 */
import { RE2JS } from 're2js';

const MAX_PATTERN = 1024;
const CACHE_LIMIT = 1000;
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

/** CEL `text.matches(pattern)`: true when the RE2 pattern matches any part of `text`. Throws on a bad pattern. */
export function re2Matches(text: string, pattern: string): boolean {
  const re = compiled(pattern);
  if (typeof re === 'string') throw new Error(re);
  return re.test(text);
}
