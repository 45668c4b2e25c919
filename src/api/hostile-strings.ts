/**
 * One check for every request, before validation and before anything reaches the database: no string in the body,
 * the query or the path parameters may hold a NUL character (PostgreSQL text cannot store it) or a lone UTF-16
 * surrogate (it is not Unicode, and turns into U+FFFD or an error on its way to the database). The first such string
 * is a 400 naming its field (`body.name`, `query.q`, `params.project`, `body.items[2].value`), never a 500.
 *
 * The same walk bounds nesting: a value nested deeper than MAX_NESTING is a 400 naming where. Fields whose schema
 * takes any JSON (rule criteria, hook bodies) reach code that recurses (JSON.stringify in a message, a criterion's
 * parser): `[[[[…]]]]` 50,000 deep inside a criterion was a 500 (RangeError: Maximum call stack size exceeded).
 */
import { InvalidInput } from '../errors.ts';

// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const NUL = /\u0000/;
const LONE_SURROGATE = /\p{Surrogate}/u;

function problem(s: string): string | undefined {
  if (NUL.test(s)) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** How deep any request value may nest: a registry's event is 5 levels deep, hoist's own bodies fewer. */
export const MAX_NESTING = 32;

const keyPath = (path: string, key: string): string =>
  /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;

/**
 * The first hostile string in `value`, or the first value nested deeper than MAX_NESTING, walked without recursion (a
 * deeply nested body cannot overflow the stack).
 */
export function hostileString(value: unknown, root: string): { field: string; why: string } | undefined {
  const stack: Array<[unknown, string, number]> = [[value, root, 0]];
  for (let seen = 0; stack.length > 0 && seen < 1_000_000; seen++) {
    const [v, path, depth] = stack.pop() as [unknown, string, number];
    if (typeof v === 'string') {
      const why = problem(v);
      if (why !== undefined) return { field: path, why };
      continue;
    }
    if (typeof v !== 'object' || v === null || Buffer.isBuffer(v)) continue;
    if (depth >= MAX_NESTING) return { field: path, why: `is nested deeper than ${MAX_NESTING} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`, depth + 1]);
    } else {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        const why = problem(key);
        if (why !== undefined) return { field: path, why: `has a key that ${why}` };
        stack.push([child, keyPath(path, key), depth + 1]);
      }
    }
  }
  return undefined;
}

/** Throws InvalidInput (400) naming the field when params, query or body carry a hostile string or nest too deep. */
export function refuseHostileStrings(req: { params: unknown; query: unknown; body: unknown }): void {
  for (const [value, root] of [
    [req.params, 'params'],
    [req.query, 'query'],
    [req.body, 'body'],
  ] as const) {
    const found = hostileString(value, root);
    if (found) throw new InvalidInput(found.why, found.field);
  }
}
