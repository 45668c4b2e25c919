/**
 * A fetch for the OpenID client that goes only where the outbound policy allows: openid-client would use Node's
 * global fetch, which connects anywhere; this one sends each request over node:http(s) with the policy's connect-time
 * guard (the same one registries and webhooks use), so an issuer URL, or a discovery document naming endpoints
 * elsewhere, cannot reach metadata or private addresses that an admin has not allowed. Redirects are not followed
 * (openid-client asks for `redirect: 'manual'`); answers are read whole, up to a limit.
 */
import { Agent, request } from '../oci/http.ts';
import { outboundGuard } from '../net/guarded-lookup.ts';
import type { OutboundPolicy } from '../net/outbound-policy.ts';

const MAX_BODY = 1024 * 1024;
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export type GuardedFetch = (
  url: string,
  options: { body?: unknown; headers: Record<string, string>; method: string; signal?: AbortSignal | undefined },
) => Promise<Response>;

function bodyBytes(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(new Uint8Array(body));
  throw new Error('unsupported request body for the OpenID provider');
}

export function guardedFetch(policy: OutboundPolicy, timeoutMs = 10_000): GuardedFetch {
  const agent = new Agent({ connections: 8, idleTimeoutMs: timeoutMs, guard: outboundGuard(policy, 'openid') });
  return async (url, options) => {
    const signal = options.signal ?? AbortSignal.timeout(timeoutMs);
    const res = await request(url, {
      method: options.method,
      headers: options.headers,
      body: bodyBytes(options.body),
      dispatcher: agent,
      signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) {
        res.body.destroy();
        throw new Error(`the OpenID provider's answer from ${new URL(url).origin} is over ${MAX_BODY} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of [value].flat()) headers.append(name, v);
    }
    return new Response(NULL_BODY.has(res.statusCode) ? null : Buffer.concat(chunks), {
      status: res.statusCode,
      headers,
    });
  };
}
