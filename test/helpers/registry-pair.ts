/** Two real registries, each behind a fault-injecting, request-counting proxy: started before a file's tests, stopped after. */
import { after, before } from 'node:test';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startProxy, type TestProxy } from '../harness/proxy.ts';

export interface RegistryPair {
  a: TestRegistry;
  b: TestRegistry;
  pa: TestProxy;
  pb: TestProxy;
}

/** Registers before/after hooks; the returned object is filled in once `before` has run. */
export function useRegistryPair(): RegistryPair {
  const pair = {} as RegistryPair;
  before(async () => {
    [pair.a, pair.b] = await Promise.all([startRegistry(), startRegistry()]);
    [pair.pa, pair.pb] = await Promise.all([startProxy(pair.a.url), startProxy(pair.b.url)]);
  });
  after(async () => {
    await Promise.all([pair.pa?.stop(), pair.pb?.stop(), pair.a?.stop(), pair.b?.stop()]);
  });
  return pair;
}
