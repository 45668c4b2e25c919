/**
 * The outbound policy: every spelling of a metadata, link-local, private or loopback address is refused (loopback and
 * private only until an admin allows their range), bad ports and credentials are refused, and at connect time a name
 * that resolves to a refused address, or a redirect to one, is refused before any connection is made. All traffic
 * here stays on loopback: refused addresses are never connected to, which is what the tests check.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { LookupAddress } from 'node:dns';
import { checkOutboundUrl, OutboundPolicy, parseCidrList } from '../../src/net/outbound-policy.ts';
import { outboundGuard, type Resolver } from '../../src/net/guarded-lookup.ts';
import { Agent, request } from '../../src/oci/http.ts';
import { openHost, openRepository } from '../../src/oci/registry.ts';

const strict = new OutboundPolicy();
const loopback = OutboundPolicy.fromList('127.0.0.0/8,::1/128');

test('every spelling of a metadata, link-local, private or loopback address is refused for webhooks', () => {
  const refused = [
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://10.0.0.1/hook',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://100.100.100.200/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:10.0.0.1]/',
    'http://2130706433/',
    'http://0x7f000001:5000/',
    'http://017700000001/',
    'http://127.1/',
    'http://[::1]:8080/',
    'http://0.0.0.0:80/',
    'http://[::]/',
    'http://224.0.0.1/',
    'http://255.255.255.255/',
  ];
  for (const url of refused) {
    const r = checkOutboundUrl(url, 'webhook', strict);
    assert.equal(r.ok, false, url);
    assert.ok(!r.ok && /never allowed|loopback or private/.test(r.message), `${url}: ${r.ok ? '' : r.message}`);
  }
  const badPort = checkOutboundUrl('http://hooks.example.com:99999/', 'webhook', strict);
  assert.ok(!badPort.ok && /port must be 1–65535/.test(badPort.message));
  const zeroPort = checkOutboundUrl('http://hooks.example.com:0/', 'webhook', strict);
  assert.ok(!zeroPort.ok && /port must be 1–65535/.test(zeroPort.message));
  const credentials = checkOutboundUrl('https://user:secret@hooks.example.com/', 'webhook', strict);
  assert.ok(!credentials.ok && /must not carry credentials/.test(credentials.message));
  assert.equal(checkOutboundUrl('gopher://hooks.example.com/', 'webhook', strict).ok, false);
  // Public addresses and names pass the URL check (names are checked again where they resolve).
  assert.equal(checkOutboundUrl('https://93.184.216.34/hook', 'webhook', strict).ok, true);
  assert.equal(checkOutboundUrl('https://hooks.example.com/hoist', 'webhook', strict).ok, true);
});

test('an allowed range opens loopback or private addresses, never link-local or metadata ones', () => {
  assert.equal(loopback.refusal('127.0.0.1', 'webhook'), undefined);
  assert.equal(loopback.refusal('::1', 'registry'), undefined);
  assert.equal(checkOutboundUrl('http://0x7f000001:5000/', 'registry', loopback).ok, true);
  assert.match(loopback.refusal('10.0.0.1', 'webhook') ?? '', /loopback or private/);
  const everything = OutboundPolicy.fromList('0.0.0.0/0, ::/0');
  assert.equal(everything.refusal('10.1.2.3', 'webhook'), undefined);
  assert.match(everything.refusal('169.254.169.254', 'webhook') ?? '', /never allowed/);
  assert.match(everything.refusal('fd00:ec2::254', 'registry') ?? '', /never allowed/);
  assert.match(everything.refusal('::ffff:a9fe:a9fe', 'registry') ?? '', /never allowed/);
  assert.deepEqual(parseCidrList('10.0.0.0/8 fd12::/16,192.168.1.7'), [
    ['10.0.0.0', 8],
    ['fd12::', 16],
    ['192.168.1.7', 32],
  ]);
  assert.throws(() => parseCidrList('10.0.0.0/33'), /"10.0.0.0\/33" is not an address range/);
  assert.throws(() => parseCidrList('intranet'), /not an address range/);
});

let server: Server;
let port = 0;
let connections = 0;
const requests: string[] = [];
before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url?.includes('/blobs/')) {
      const to = req.url.includes('/by-name/') ? 'http://metadata.test/latest' : 'http://169.254.169.254/latest';
      res.writeHead(307, { location: to }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A resolver of our own: `metadata.test` is the metadata address, `receiver.test` is our loopback server. */
const asked: string[] = [];
const resolver: Resolver = (hostname, _options, callback) => {
  asked.push(hostname);
  const answers: Record<string, LookupAddress[]> = {
    'metadata.test': [{ address: '169.254.169.254', family: 4 }],
    'receiver.test': [{ address: '127.0.0.1', family: 4 }],
    'split.test': [
      { address: '127.0.0.1', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ],
  };
  const a = answers[hostname];
  if (a) callback(null, a);
  else callback(Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' }), []);
};

const agentFor = (policy: OutboundPolicy): Agent =>
  new Agent({ connections: 2, idleTimeoutMs: 5000, guard: outboundGuard(policy, 'webhook', resolver) });

test('a name is checked where it resolves: refused before connecting, allowed when its range is', async () => {
  const before = connections;
  const refuse = async (url: string, policy: OutboundPolicy, why: RegExp): Promise<void> => {
    const agent = agentFor(policy);
    await assert.rejects(
      request(url, { method: 'GET', headers: {}, dispatcher: agent }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'EOUTBOUND', e.message);
        assert.match(e.message, why);
        return true;
      },
    );
    agent.destroy();
  };
  await refuse(`http://metadata.test:${port}/`, loopback, /metadata.test resolves to webhook address 169.254.169.254/);
  await refuse(`http://receiver.test:${port}/`, strict, /receiver.test resolves to .*127.0.0.1 is loopback or private/);
  await refuse(`http://split.test:${port}/`, loopback, /10.0.0.7 is loopback or private/);
  await refuse(`http://127.0.0.1:${port}/`, strict, /127.0.0.1 is loopback or private/);
  assert.equal(connections, before, 'no connection was made for a refused address');
  assert.deepEqual(asked.slice(-3), ['metadata.test', 'receiver.test', 'split.test'], 'literals need no lookup');

  const agent = agentFor(loopback);
  const res = await request(`http://receiver.test:${port}/hello`, { method: 'GET', headers: {}, dispatcher: agent });
  await res.body.dump();
  assert.equal(res.statusCode, 200);
  assert.equal(connections, before + 1);
  agent.destroy();
});

test('a registry redirect to a refused address is refused at that hop, by address or by name', async () => {
  const agent = new Agent({
    connections: 2,
    idleTimeoutMs: 5000,
    guard: outboundGuard(loopback, 'registry', resolver),
  });
  const host = openHost(`127.0.0.1:${port}`, {
    insecure: true,
    agent,
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
  const digest = `sha256:${'0'.repeat(64)}`;
  const served = requests.length;
  for (const [repository, why] of [
    ['shop/web', /registry address 169.254.169.254 is link-local, metadata/],
    ['by-name/web', /metadata.test resolves to registry address 169.254.169.254/],
  ] as const) {
    const repo = openRepository(host, repository);
    await assert.rejects(repo.openBlob({ digest, size: 1 }), (e: Error & { cause?: Error & { code?: string } }) => {
      assert.equal(e.cause?.code, 'EOUTBOUND', e.message);
      assert.match(e.cause?.message ?? '', why);
      return true;
    });
  }
  assert.deepEqual(
    requests.slice(served),
    [`/v2/shop/web/blobs/${digest}`, `/v2/by-name/web/blobs/${digest}`],
    'only the first hop of each reached a server',
  );
  agent.destroy();
});
