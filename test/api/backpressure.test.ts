/**
 * Backpressure: a server over its configured limits answers new requests 503 with Retry-After in the documented
 * error shape, still answers /healthz, and serves again once the load is gone. Requests are held in flight by a
 * registry that does not answer (a TCP server that reads and stays silent until the test lets it go); the event
 * loop is held by the test itself.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { BackpressureOptions } from '../../src/api/backpressure.ts';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/api/context.ts';
import { createServices } from '../../src/api/services.ts';
import { OutboundPolicy } from '../../src/net/outbound-policy.ts';
import { SecretBox } from '../../src/service/secret-box.ts';
import type { Database } from '../../src/store/database.ts';
import { freshDatabase } from '../helpers/backends.ts';
import { LOOPBACK_CIDRS } from '../helpers/api.ts';

let database: Database;
let services: ReturnType<typeof createServices>;
let adminToken = '';
let viewerToken = '';
const servers: App[] = [];

before(async () => {
  database = await freshDatabase('pglite');
  services = createServices(database, new SecretBox(randomBytes(32)), {
    outbound: OutboundPolicy.fromList(LOOPBACK_CIDRS),
  });
  const root = await services.accounts.createUser(
    { username: 'test' },
    { username: 'root', password: 'root-pw-123', isAdmin: true },
  );
  adminToken = (await services.accounts.createToken({ userId: root.id, username: 'root' }, 't')).token;
  const viewer = await services.accounts.createUser(
    { username: 'test' },
    { username: 'vera', password: 'vera-pw-123' },
  );
  viewerToken = (await services.accounts.createToken({ userId: viewer.id, username: 'vera' }, 't')).token;
});
after(async () => {
  for (const app of servers) await app.close();
  await database?.close();
});

async function serve(backpressure: BackpressureOptions) {
  const app = await buildServer(services, { backpressure });
  servers.push(app);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const call = async (path: string, token = adminToken, init: RequestInit = {}) => {
    const res = await fetch(`${address}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
    const text = await res.text();
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: text ? JSON.parse(text) : undefined,
    };
  };
  return { app, call };
}

/**
 * A registry that accepts connections, reads the request and stays silent until released; after that it answers
 * every request at once (the connection test asks more than one thing).
 */
async function silentRegistry(): Promise<{
  port: number;
  held: () => number;
  release: () => void;
  close: () => Promise<void>;
}> {
  const ANSWER = 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
  const sockets: Socket[] = [];
  let released = false;
  const server: Server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => (released ? socket.end(ANSWER) : sockets.push(socket)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    held: () => sockets.length,
    release: () => {
      released = true;
      for (const s of sockets.splice(0)) s.end(ANSWER);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const eventually = async (what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const until = async (what: string, check: () => boolean, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('over the in-flight limit: 503 with Retry-After for everyone, /healthz answered, then served again', async () => {
  const { call } = await serve({ maxInFlight: 2, maxEventLoopDelayMs: 0, retryAfterSeconds: 3 });
  const registry = await silentRegistry();
  try {
    const put = await call('/api/v1/registries/silent', adminToken, {
      method: 'PUT',
      body: JSON.stringify({ url: `http://127.0.0.1:${registry.port}` }),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    // Two connection tests wait on the silent registry: the server has 2 requests in flight.
    const waiting = [1, 2].map(() => call('/api/v1/registries/silent/test', adminToken, { method: 'POST' }));
    await until('both tests at the registry', () => registry.held() === 2);

    for (const token of [adminToken, viewerToken]) {
      const refused = await call('/api/v1/projects', token);
      assert.equal(refused.status, 503);
      assert.equal(refused.retryAfter, '3');
      assert.deepEqual(Object.keys(refused.body), ['error']);
      assert.equal(refused.body.error.code, 'OVERLOADED');
      assert.match(refused.body.error.message, /busy \(2 requests in progress\)/);
    }
    const health = await call('/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');

    registry.release();
    for (const r of await Promise.all(waiting)) assert.equal(r.status, 200, JSON.stringify(r.body));
    const served = await call('/api/v1/projects');
    assert.equal(served.status, 200, JSON.stringify(served.body));
  } finally {
    registry.release();
    await registry.close();
  }
});

test('over the event-loop delay limit: 503 with Retry-After until the loop catches up', async () => {
  const { call } = await serve({ maxInFlight: 0, maxEventLoopDelayMs: 1000 });
  // Building the server held the loop too: served once a sample has seen it idle.
  await eventually('served', async () => (await call('/api/v1/projects')).status === 200);
  // Hold the loop, as a long synchronous computation would.
  const busyUntil = Date.now() + 2500;
  while (Date.now() < busyUntil);
  const refused = await call('/api/v1/projects');
  assert.equal(refused.status, 503);
  assert.equal(refused.retryAfter, '2');
  assert.equal(refused.body.error.code, 'OVERLOADED');
  assert.match(refused.body.error.message, /event loop is \d+ ms behind/);
  assert.equal((await call('/healthz')).status, 200);
  // The next samples see an idle loop.
  await eventually('served again', async () => (await call('/api/v1/projects')).status === 200);
});

test('a request leaves the count when answered: one at a time never meets a limit of one', async () => {
  const { app, call } = await serve({ maxInFlight: 1, maxEventLoopDelayMs: 0 });
  // One at a time: each is the only one in flight.
  for (let i = 0; i < 20; i++) assert.equal((await call('/api/v1/projects')).status, 200);
  // In-process calls (inject) are counted and released too.
  for (let i = 0; i < 20; i++)
    assert.equal(
      (await app.inject({ url: '/api/v1/projects', headers: { authorization: `Bearer ${adminToken}` } })).statusCode,
      200,
    );
});
