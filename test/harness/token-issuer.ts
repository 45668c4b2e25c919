// A Docker-style token server for the token-auth registry fixture. `GET /token?service=S&scope=T:NAME:ACTIONS...`
// checks HTTP Basic credentials against the fixture's users: wrong credentials get 401, no credentials get an
// anonymous token with an empty access list (as Docker Hub does), and known users get every action they asked for.
// Tokens are RS256 JWTs whose `x5c` header holds the issuer certificate, which is how distribution 2.8 finds the key.
import { randomUUID, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { SigningCert } from './signing-cert.ts';

export interface TokenIssuer {
  /** The realm to configure in the registry: `http://127.0.0.1:PORT/token`. */
  realm: string;
  service: string;
  issuer: string;
  /** How many requests reached `/token` (issued or refused). */
  requests(): number;
  stop(): Promise<void>;
}

export interface TokenIssuerOptions {
  cert: SigningCert;
  users: Record<string, string>;
  service: string;
  issuer: string;
  /** Token lifetime in seconds; 300 unless told. */
  expiresIn?: number;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  let count = 0;
  const server = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/token') count++;
    answer(req, res, opts);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('token-issuer: no port');
  return {
    realm: `http://127.0.0.1:${address.port}/token`,
    service: opts.service,
    issuer: opts.issuer,
    requests: () => count,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, opts: TokenIssuerOptions): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname !== '/token' || req.method !== 'GET') {
    json(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'only GET /token is served here' }] });
    return;
  }
  const who = basicUser(req.headers.authorization);
  if (who === 'invalid' || (who !== undefined && opts.users[who.username] !== who.password)) {
    res.setHeader('WWW-Authenticate', 'Basic realm="hoist-test-issuer"');
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
    return;
  }
  const service = url.searchParams.get('service') ?? opts.service;
  const access = who === undefined ? [] : url.searchParams.getAll('scope').flatMap(parseScopes);
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = opts.expiresIn ?? 300;
  const token = signJwt(opts.cert, {
    iss: opts.issuer,
    sub: who?.username ?? '',
    aud: service,
    exp: now + expiresIn,
    nbf: now - 10,
    iat: now,
    jti: randomUUID(),
    access,
  });
  json(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() });
}

/** undefined = no credentials; 'invalid' = a malformed Authorization header. */
function basicUser(header: string | undefined): { username: string; password: string } | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m?.[1]) return 'invalid';
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'invalid';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** `repository:team/app:pull,push` (several may share one parameter, space-separated). Names may hold ':'. */
function parseScopes(param: string): Access[] {
  return param
    .split(' ')
    .filter((s) => s !== '')
    .flatMap((scope) => {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first < 0 || last === first) return [];
      const actions = scope
        .slice(last + 1)
        .split(',')
        .filter((a) => a !== '');
      return [{ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions }];
    });
}

function signJwt(cert: SigningCert, claims: Record<string, unknown>): string {
  const header = { alg: 'RS256', typ: 'JWT', x5c: [cert.certDerBase64] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), cert.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}
