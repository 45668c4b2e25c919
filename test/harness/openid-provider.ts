/**
 * A real OpenID provider for the sign-on tests: oidc-provider (a certified implementation) on 127.0.0.1:random, in
 * the test process, with one confidential client (`hoist`, PKCE required), its development login and consent pages
 * (any password; the login is the subject), and accounts whose claims the test sets and changes (`groups` among
 * them). The ID token carries only the standard claims; `groups` comes from the userinfo endpoint, as with many
 * providers, unless `groupsInIdToken` is set.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider from 'oidc-provider';

export interface ProviderAccount {
  preferred_username?: string;
  email?: string;
  groups: string[];
}

export interface OpenIdProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The test's accounts by subject; change them between sign-ins. */
  accounts: Map<string, ProviderAccount>;
  stop(): Promise<void>;
}

export async function startOpenIdProvider(o: {
  redirectUris: string[];
  groupsInIdToken?: boolean;
}): Promise<OpenIdProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const accounts = new Map<string, ProviderAccount>();
  const clientId = 'hoist';
  const clientSecret = 'hoist-client-secret-for-tests';
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: o.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
    claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    conformIdTokenClaims: !(o.groupsInIdToken ?? false),
    jwks: { keys: [{ ...key, use: 'sig', alg: 'RS256', kid: 'test' }] },
    cookies: { keys: ['openid-provider-test-cookie-key'] },
    pkce: { required: () => true },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    features: { devInteractions: { enabled: true } },
  });
  // Errors the provider answers on purpose (a bad request from a test) are not worth a stack trace in the log.
  provider.on('server_error', (_ctx, error) => process.stderr.write(`openid provider: ${String(error)}\n`));
  handler = provider.callback();
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
