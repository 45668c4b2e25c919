/**
 * Parsing `WWW-Authenticate` challenges (RFC 7235): `Basic realm="x"` and
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"`.
 */

export interface Challenge {
  scheme: 'basic' | 'bearer' | 'other';
  params: Record<string, string>;
}

/** Parses the first challenge in the header; parameter values may be quoted with backslash escapes. */
export function parseChallenge(header: string): Challenge {
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: 'other', params: {} };
  const schemeName = (m[1] ?? '').toLowerCase();
  const scheme = schemeName === 'basic' ? 'basic' : schemeName === 'bearer' ? 'bearer' : 'other';
  const params: Record<string, string> = {};
  const re = /([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2] ?? '';
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null && p[0] !== '') {
    const key = (p[1] ?? '').toLowerCase();
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme, params };
}
