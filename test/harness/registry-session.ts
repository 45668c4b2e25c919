// fetch() against one registry repository with the auth dance done for the caller, written independently of hoist's
// own client so that tests do not check hoist with hoist. A 401 with `Basic` is answered with the credentials; a 401
// with `Bearer realm,service,scope` fetches a token for `repository:REPO:pull,push` (plus the challenged scope) from
// the realm, using the credentials if there are any, and the request is replayed once. Bodies are always Buffers, so
// replaying is safe. Relative and absolute Location headers are both resolved against the registry URL.

export interface Creds {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export class RegistrySession {
  private authorization: string | undefined;

  constructor(
    readonly registryUrl: string,
    readonly repo: string,
    private readonly creds?: Creds,
  ) {}

  /** `/v2/<repo>/<rest>` as an absolute URL. */
  repoUrl(rest: string): string {
    return new URL(`/v2/${this.repo}/${rest}`, this.registryUrl).toString();
  }

  /** A Location header (relative or absolute) as an absolute URL. */
  resolve(location: string | null, what: string): string {
    if (location === null || location === '') throw new Error(`registry-session: ${what} answered without Location`);
    return new URL(location, this.registryUrl).toString();
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    let res = await this.send(url, init);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    await res.body?.cancel();
    if (challenge === undefined) return this.send(url, init);
    this.authorization = await this.authorize(challenge);
    res = await this.send(url, init);
    return res;
  }

  private send(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.authorization !== undefined) headers.set('Authorization', this.authorization);
    return fetch(url, { ...init, headers, redirect: 'follow' });
  }

  private async authorize(challenge: Challenge): Promise<string | undefined> {
    const pair = this.creds && `${this.creds.username}:${this.creds.password}`;
    const basic = pair && `Basic ${Buffer.from(pair).toString('base64')}`;
    if (challenge.scheme === 'basic') return basic;
    if (challenge.scheme !== 'bearer') throw new Error(`registry-session: unknown auth scheme ${challenge.scheme}`);
    const realm = challenge.params['realm'];
    if (realm === undefined) throw new Error('registry-session: Bearer challenge without realm');
    const tokenUrl = new URL(realm);
    if (challenge.params['service'] !== undefined) tokenUrl.searchParams.set('service', challenge.params['service']);
    const ours = `repository:${this.repo}:pull,push`;
    tokenUrl.searchParams.append('scope', ours);
    const asked = challenge.params['scope'];
    if (asked !== undefined && asked !== ours) tokenUrl.searchParams.append('scope', asked);
    const res = await fetch(tokenUrl, { headers: basic !== undefined ? { Authorization: basic } : {} });
    const text = await res.text();
    if (!res.ok) throw new Error(`registry-session: token request to ${realm} failed: ${res.status} ${text}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (token === undefined) throw new Error(`registry-session: token response without token: ${text}`);
    return `Bearer ${token}`;
  }
}

/** `Bearer realm="https://x/token",service="reg",scope="repository:a:pull,push"` (quoted values may hold commas). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (header === null) return undefined;
  const m = /^\s*(\S+)\s*(.*)$/.exec(header);
  if (!m?.[1]) return undefined;
  const params: Record<string, string> = {};
  for (const p of (m[2] ?? '').matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    if (p[1] !== undefined) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** Throws with the registry's error body unless the status is one of `ok`. */
export async function expectStatus(res: Response, ok: number[], what: string): Promise<void> {
  if (ok.includes(res.status)) return;
  const body = await res.text().catch(() => '');
  throw new Error(`${what}: HTTP ${res.status} ${body}`);
}
