/**
 * Opening registries: one RegistryHost per registry (its transport, auth and learnt capabilities), and the
 * repository clients on it. Docker Hub's API lives on another host than its name, as docker reads it.
 */
import type { Agent } from './http.ts';
import type { Credentials } from './credentials.ts';
import { RegistryHost, RepositoryClient } from './registry-client.ts';
import { DOCKER_HUB } from './reference.ts';
import { Transport, type RetryPolicy } from './transport.ts';

export interface HostOptions {
  /** Plain HTTP instead of HTTPS (`--insecure-registry`). */
  insecure?: boolean;
  credentials?: Credentials;
  retry?: RetryPolicy;
  agent?: Agent;
  onRequest?: (method: string, url: string) => void;
}

export function openHost(host: string, opts: HostOptions = {}): RegistryHost {
  const apiHost = host === DOCKER_HUB ? 'registry-1.docker.io' : host;
  const transport = new Transport({
    host: apiHost,
    insecure: opts.insecure ?? false,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.agent ? { agent: opts.agent } : {}),
    ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
  });
  return new RegistryHost(transport);
}

export function openRepository(
  host: RegistryHost,
  name: string,
  opts: { push?: boolean; mountFrom?: readonly string[] } = {},
): RepositoryClient {
  return new RepositoryClient(host, name, opts);
}

/** Whether `host` is named in the insecure list (`host:port` entries; a bare host matches any port). */
export function isInsecureHost(host: string, insecure: readonly string[]): boolean {
  const bare = host.replace(/:\d+$/, '');
  return insecure.some((h) => h === host || h === bare);
}
