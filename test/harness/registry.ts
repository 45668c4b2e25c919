// Starts a real CNCF distribution 2.8 registry for a test: fresh temporary storage, a random loopback port, and one
// of three auth set-ups (anonymous, htpasswd basic, or token auth backed by our own token issuer), optionally with
// notifications sent to a URL. `stop()` kills the process and removes the temporary directory; anything a test
// forgets is cleaned up when the test process exits.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { sweepStaleDirectories, trackDirectory, untrackDirectory } from './cleanup.ts';
import { freePort } from './free-port.ts';
import { registryConfig, type RegistryConfigAuth } from './registry-config.ts';
import { PortInUse, launchRegistry, type RegistryProcess } from './registry-process.ts';
import { createSigningCert } from './signing-cert.ts';
import { startTokenIssuer, type TokenIssuer } from './token-issuer.ts';

export type RegistryAuthKind = 'none' | 'basic' | 'token';

export interface TestRegistry {
  host: string; // '127.0.0.1:PORT'
  url: string; // 'http://127.0.0.1:PORT'
  auth: RegistryAuthKind;
  users: Record<string, string>; // username -> password accepted (basic and token kinds)
  dataDir: string; // registry filesystem storage root
  /** Token kind only: how many requests reached the token issuer (issued or refused). */
  tokenRequests?: () => number;
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: RegistryAuthKind;
  users?: Record<string, string>;
  notificationsUrl?: string;
  notificationHeaders?: Record<string, string>;
  /** Actions the registry sends no notification for (`['pull']`, as hoist's README advises). */
  notificationIgnoredActions?: string[];
  /** Media types the registry sends no notification for (`['application/octet-stream']`: blobs, as the README advises). */
  notificationIgnoredMediaTypes?: string[];
  /** A fixed port (for the demo registry); default: a free random one. */
  port?: number;
}

export const BASIC_REALM = 'hoist-test';
export const TOKEN_SERVICE = 'hoist-test-registry';
export const TOKEN_ISSUER = 'hoist-test-issuer';
const PORT_ATTEMPTS = 5;
const DIR_PREFIX = 'hoist-registry-';

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const users = opts.users ?? { alice: 'wonderland' };
  sweepStaleDirectories(tmpdir(), DIR_PREFIX);
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  trackDirectory(dir);
  const dataDir = join(dir, 'data');
  let issuer: TokenIssuer | undefined;
  const cleanup = async (): Promise<void> => {
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
    untrackDirectory(dir);
  };
  try {
    await mkdir(dataDir);
    let authConfig: RegistryConfigAuth = { kind: 'none' };
    if (auth === 'basic') {
      const htpasswdPath = join(dir, 'htpasswd');
      // bcryptjs writes $2b$; distribution 2.8 (Go's x/crypto/bcrypt) accepts $2a$, $2b$ and $2y$ alike.
      const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 5)}\n`);
      await writeFile(htpasswdPath, lines.join(''));
      authConfig = { kind: 'basic', realm: BASIC_REALM, htpasswdPath };
    } else if (auth === 'token') {
      const cert = await createSigningCert(dir, TOKEN_ISSUER);
      issuer = await startTokenIssuer({ cert, users, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER });
      authConfig = {
        kind: 'token',
        realm: issuer.realm,
        service: TOKEN_SERVICE,
        issuer: TOKEN_ISSUER,
        rootCertBundle: cert.certPath,
      };
    }

    const { port, proc } = await launchOnFreePort(
      dir,
      dataDir,
      authConfig,
      opts.notificationsUrl,
      opts.port,
      opts.notificationHeaders,
      opts.notificationIgnoredActions,
      opts.notificationIgnoredMediaTypes,
    );
    let stopping: Promise<void> | undefined;
    const registry: TestRegistry = {
      host: `127.0.0.1:${port}`,
      url: `http://127.0.0.1:${port}`,
      auth,
      users,
      dataDir,
      stop: () => (stopping ??= proc.stop().then(cleanup)),
    };
    const tokenIssuer = issuer;
    if (tokenIssuer !== undefined) registry.tokenRequests = () => tokenIssuer.requests();
    return registry;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function launchOnFreePort(
  dir: string,
  dataDir: string,
  auth: RegistryConfigAuth,
  notificationsUrl: string | undefined,
  fixedPort?: number,
  notificationHeaders?: Record<string, string>,
  notificationIgnoredActions?: string[],
  notificationIgnoredMediaTypes?: string[],
): Promise<{ port: number; proc: RegistryProcess }> {
  const configPath = join(dir, 'config.yml');
  const logPath = join(dir, 'registry.log');
  const secret = randomBytes(16).toString('hex');
  const instanceId = randomUUID();
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    const config = registryConfig({
      port,
      dataDir,
      secret,
      instanceId,
      auth,
      notificationsUrl,
      ...(notificationHeaders ? { notificationHeaders } : {}),
      ...(notificationIgnoredActions ? { notificationIgnoredActions } : {}),
      ...(notificationIgnoredMediaTypes ? { notificationIgnoredMediaTypes } : {}),
    });
    await writeFile(configPath, config);
    try {
      return { port, proc: await launchRegistry({ configPath, logPath, port, instanceId }) };
    } catch (err) {
      if (!(err instanceof PortInUse) || attempt >= PORT_ATTEMPTS || fixedPort !== undefined) throw err;
    }
  }
}
