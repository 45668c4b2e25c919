/**
 * The connect-time half of the outbound policy: a `lookup` for node:net/http/https that resolves a host name and
 * refuses, before any connection is attempted, when any address it resolves to is refused (so a name that answers a
 * public and a metadata address cannot win a race), and a check of address literals, which node connects to without
 * a lookup. Every hop of a redirect goes through both, since each is a new request on the same agent.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { bareHost, OutboundRefused, type OutboundPolicy, type Purpose } from './outbound-policy.ts';

/** dns.lookup's shape with `all: true` (tests pass a resolver of their own). */
export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** What node:http's agents accept as `lookup`. */
export type LookupFunction = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

const systemResolver: Resolver = (hostname, options, callback) => dnsLookup(hostname, options, callback);

export interface OutboundGuard {
  readonly purpose: Purpose;
  lookup: LookupFunction;
  /** Throws OutboundRefused when `hostname` is an address literal the policy refuses (names are checked by lookup). */
  checkHost(hostname: string): void;
}

export function outboundGuard(
  policy: OutboundPolicy,
  purpose: Purpose,
  resolve: Resolver = systemResolver,
): OutboundGuard {
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = policy.refusal(a.address, purpose);
        if (why !== undefined) return callback(new OutboundRefused(`${hostname} resolves to ${why}`), []);
      }
      if (addresses.length === 0)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
  return {
    purpose,
    lookup,
    checkHost(hostname) {
      const host = bareHost(hostname);
      if (isIP(host) !== 0) policy.check(host, purpose);
    },
  };
}
