// Builds the configuration file for one CNCF distribution 2.8 registry. The file is JSON, which the registry's YAML
// parser reads as YAML flow style, so no YAML writer is needed. There is deliberately no `http.host`: the registry
// then builds its absolute Location headers from the request's Host header, so they point back through a proxy.
// Every response carries an `X-Hoist-Test-Instance` header, which lets the starter tell its own registry apart from a
// stranger that grabbed the same port.

export type RegistryConfigAuth =
  | { kind: 'none' }
  | { kind: 'basic'; realm: string; htpasswdPath: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface RegistryConfigInput {
  port: number;
  dataDir: string;
  secret: string;
  instanceId: string;
  auth: RegistryConfigAuth;
  notificationsUrl?: string;
  /** Sent with every notification, e.g. `Authorization: Bearer <secret>`. */
  notificationHeaders?: Record<string, string>;
  /** Actions not notified at all (`pull`). */
  notificationIgnoredActions?: string[];
  /** Media types not notified at all (`application/octet-stream`: every blob push and mount). */
  notificationIgnoredMediaTypes?: string[];
}

export const INSTANCE_HEADER = 'X-Hoist-Test-Instance';

export function registryConfig(input: RegistryConfigInput): string {
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      // As the registry's packaged configuration has it (Debian's /etc/docker/registry/config.yml).
      cache: { blobdescriptor: 'inmemory' },
      filesystem: { rootdirectory: input.dataDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${input.port}`,
      secret: input.secret,
      headers: { [INSTANCE_HEADER]: [input.instanceId], 'X-Content-Type-Options': ['nosniff'] },
    },
  };
  const auth = authSection(input.auth);
  if (auth !== undefined) config['auth'] = auth;
  if (input.notificationsUrl !== undefined) {
    config['notifications'] = {
      events: { includereferences: true },
      endpoints: [
        {
          name: 'hoist',
          url: input.notificationsUrl,
          timeout: '1s',
          threshold: 5,
          backoff: '1s',
          ...(input.notificationHeaders
            ? { headers: Object.fromEntries(Object.entries(input.notificationHeaders).map(([k, v]) => [k, [v]])) }
            : {}),
          ...(input.notificationIgnoredActions || input.notificationIgnoredMediaTypes
            ? {
                ignore: {
                  ...(input.notificationIgnoredActions ? { actions: input.notificationIgnoredActions } : {}),
                  ...(input.notificationIgnoredMediaTypes ? { mediatypes: input.notificationIgnoredMediaTypes } : {}),
                },
              }
            : {}),
        },
      ],
    };
  }
  return `${JSON.stringify(config, null, 2)}\n`;
}

function authSection(auth: RegistryConfigAuth): Record<string, unknown> | undefined {
  switch (auth.kind) {
    case 'none':
      return undefined;
    case 'basic':
      return { htpasswd: { realm: auth.realm, path: auth.htpasswdPath } };
    case 'token':
      return {
        token: { realm: auth.realm, service: auth.service, issuer: auth.issuer, rootcertbundle: auth.rootCertBundle },
      };
  }
}
