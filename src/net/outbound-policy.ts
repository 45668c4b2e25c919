/**
 * Where the server may connect: the outbound policy for registries and webhooks, as pure checks. Link-local and cloud
 * metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, …), unspecified, multicast and
 * broadcast addresses are always refused; loopback and private ranges are refused unless an admin allows a CIDR list
 * (`HOIST_OUTBOUND_ALLOW=127.0.0.0/8,::1/128`); everything else (public addresses) is allowed. URLs are read with the
 * WHATWG parser, as the HTTP client reads them, so `2130706433` and `0x7f000001` are the 127.0.0.1 they connect to.
 * A host name is checked where it is resolved, at connect time (guarded-lookup.ts), so DNS cannot answer differently
 * between the check and the connection.
 */
import { BlockList, isIP } from 'node:net';

const ALWAYS_REFUSED: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: AWS, GCP, Azure, OpenStack metadata at 169.254.169.254
  ['100.100.100.200', 32], // Alibaba Cloud metadata
  ['168.63.129.16', 32], // Azure wire server
  ['192.0.0.0', 24], // IETF protocol assignments (192.0.0.192: Oracle Cloud metadata)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255
  ['::', 128],
  ['fe80::', 10], // IPv6 link-local
  ['fd00:ec2::254', 128], // AWS metadata over IPv6
  ['ff00::', 8], // IPv6 multicast
];

const PRIVATE: ReadonlyArray<[string, number]> = [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['198.18.0.0', 15], // benchmarking
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['64:ff9b::', 96], // NAT64: an IPv4 address inside
  ['2002::', 16], // 6to4: an IPv4 address inside
];

function blockList(ranges: ReadonlyArray<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of ranges) list.addSubnet(address, prefix, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return list;
}

const always = blockList(ALWAYS_REFUSED);
const privateRanges = blockList(PRIVATE);

/** What a connection is for, named in refusals. */
export type Purpose = 'webhook' | 'registry' | 'openid' | 'git';

export class OutboundRefused extends Error {
  readonly code = 'EOUTBOUND';
}

/** `[::1]` → `::1`; anything else unchanged. */
export const bareHost = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, '$1');

/** Parses `127.0.0.0/8,::1/128` (commas or spaces); throws with the bad entry named. */
export function parseCidrList(text: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const entry of text.split(/[\s,]+/).filter((e) => e !== '')) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const family = m ? isIP(bareHost(m[1] ?? '')) : 0;
    const prefix = m?.[2] === undefined ? (family === 6 ? 128 : 32) : Number(m[2]);
    if (!m || family === 0 || prefix > (family === 6 ? 128 : 32))
      throw new Error(`"${entry}" is not an address range (use CIDR, e.g. 10.0.0.0/8 or fd12::/16)`);
    out.push([bareHost(m[1] ?? ''), prefix]);
  }
  return out;
}

export class OutboundPolicy {
  private readonly allowed: BlockList;

  /** `allow`: the CIDR ranges an admin opened among the private ones (never the always-refused ones). */
  constructor(readonly allow: ReadonlyArray<[string, number]> = []) {
    this.allowed = blockList(allow);
  }

  static fromList(text: string | undefined): OutboundPolicy {
    return new OutboundPolicy(parseCidrList(text ?? ''));
  }

  /** Why connecting to `address` (an IP address) is refused, or undefined when it is allowed. */
  refusal(address: string, purpose: Purpose): string | undefined {
    const ip = bareHost(address);
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(ip) === 0) return `${address} is not an IP address`;
    if (always.check(ip, family))
      return `${purpose} address ${ip} is link-local, metadata or otherwise reserved, and never allowed`;
    if (privateRanges.check(ip, family) && !this.allowed.check(ip, family))
      return `${purpose} address ${ip} is loopback or private; an admin can allow its range with HOIST_OUTBOUND_ALLOW`;
    return undefined;
  }

  /** Throws OutboundRefused when `address` is refused. */
  check(address: string, purpose: Purpose): void {
    const why = this.refusal(address, purpose);
    if (why !== undefined) throw new OutboundRefused(why);
  }
}

export interface UrlProblem {
  message: string;
}

/**
 * Reads an outbound URL strictly: http or https, a port from 1 to 65535, no credentials in it (for webhooks: they
 * are read back and audited), and, when the host is an address, one the policy allows. Answers the WHATWG URL.
 */
export function checkOutboundUrl(
  raw: string,
  purpose: Purpose,
  policy: OutboundPolicy,
): { ok: true; url: URL } | { ok: false; message: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: `"${raw.slice(0, 200)}" is not a URL (a port must be 1–65535)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, message: `use an http or https URL, not ${url.protocol}` };
  if (url.port === '0') return { ok: false, message: 'a port must be 1–65535' };
  if (url.username !== '' || url.password !== '')
    return { ok: false, message: 'a URL must not carry credentials (user:password@); they would be shown and audited' };
  const host = bareHost(url.hostname);
  if (isIP(host) !== 0) {
    const why = policy.refusal(host, purpose);
    if (why !== undefined) return { ok: false, message: why };
  }
  return { ok: true, url };
}
