/** Opening hoist's registry client on test registries and proxies (plain HTTP, fast retries). */
import { openHost } from '../../src/oci/registry.ts';
import type { RegistryHost } from '../../src/oci/registry-client.ts';
import { parseReference, type Reference } from '../../src/oci/reference.ts';

export const FAST_RETRY = { retries: 3, baseDelayMs: 20, maxDelayMs: 200 };

export function testHost(host: string, credentials?: { username: string; password: string }): RegistryHost {
  return openHost(host, { insecure: true, retry: FAST_RETRY, ...(credentials ? { credentials } : {}) });
}

export function ref(s: string): Reference {
  return parseReference(s);
}
