/**
 * Turning the registry flags every command shares (`--insecure-registry`, `HOIST_INSECURE_REGISTRIES`, credentials
 * from flags or docker's config file) into open registry hosts. Source and destination on one registry with the
 * same credentials share one host, so tokens and connections are reused and blobs can be mounted.
 */
import { dockerConfigCredentials, parseCredentials, type Credentials } from '../oci/credentials.ts';
import { isInsecureHost, openHost } from '../oci/registry.ts';
import type { RegistryHost } from '../oci/registry-client.ts';

export interface RegistryFlags {
  insecureRegistry?: string[];
}

export function insecureList(flags: RegistryFlags, env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.HOIST_INSECURE_REGISTRIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return [...(flags.insecureRegistry ?? []), ...fromEnv];
}

export function credentialsFor(host: string, flag: string | undefined, flagName: string): Credentials | undefined {
  return flag !== undefined ? parseCredentials(flag, flagName) : dockerConfigCredentials(host);
}

export class HostCache {
  private readonly hosts = new Map<string, RegistryHost>();
  constructor(private readonly insecure: readonly string[]) {}

  open(host: string, credentials: Credentials | undefined): RegistryHost {
    const key = `${host}\u0000${credentials?.username ?? ''}\u0000${credentials?.password ?? ''}`;
    let h = this.hosts.get(key);
    if (!h) {
      h = openHost(host, { insecure: isInsecureHost(host, this.insecure), ...(credentials ? { credentials } : {}) });
      this.hosts.set(key, h);
    }
    return h;
  }
}

/** `--insecure-registry`, which every command that talks to registries takes (program.ts, copy-args.ts). */
export const INSECURE_REGISTRY_FLAGS = '--insecure-registry <host:port>';
export const INSECURE_REGISTRY_DESCRIPTION =
  'talk plain HTTP to this registry (repeatable; also HOIST_INSECURE_REGISTRIES=a,b)';

/** Repeatable option collector for commander (and for copy-args.ts, which reads as commander does). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
