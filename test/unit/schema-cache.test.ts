/**
 * src/api/schema-cache.ts: two servers with the same route share its compiled validator and serializer, and each still
 * validates (coercion, defaults, formats, refusals), lower-cases header schemas as Fastify does, and serializes by its
 * schema. With HOIST_SCHEMA_CACHE, a second process builds them from the code the first one left (this file, run as a
 * child process, is that process), a file that is not valid code is compiled anew, and a directory that cannot be
 * written changes nothing but the time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyRequest } from 'fastify';
import { buildSerializer, cacheValidators } from '../../src/api/schema-cache.ts';

const validators: unknown[] = [];
const body = {
  type: 'object',
  properties: {
    count: { type: 'integer' },
    name: { type: 'string', default: 'none' },
    when: { type: 'string', format: 'date-time' },
  },
  required: ['count'],
  additionalProperties: false,
};
// A fresh object per server, as routes build them: the cache goes by content.
const schema = () => ({
  body: structuredClone(body),
  headers: { type: 'object', properties: { 'X-Trace': { type: 'string', maxLength: 3 } } },
  response: {
    200: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        name: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        same: { type: 'boolean' },
      },
    },
  },
});

async function server() {
  const app = Fastify({
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true },
      onCreate: cacheValidators,
    },
    schemaController: { compilersFactory: { buildSerializer } },
  });
  app.post('/', { schema: schema() }, async (req: FastifyRequest) => {
    validators.push(req.getValidationFunction('body'));
    return { ...(req.body as object), same: validators.length > 1 && validators.at(-1) === validators[0], extra: 1 };
  });
  await app.ready();
  return app;
}

test('two servers share the compiled validator and serializer of the same schema; both validate and serialize', async () => {
  const a = await server();
  const b = await server();
  try {
    for (const [app, same] of [
      [a, false],
      [b, true],
    ] as const) {
      const ok = await app.inject({ method: 'POST', url: '/', payload: { count: '3' } });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual(ok.json(), { count: 3, name: 'none', same }, 'coerced, defaulted, serialized by the schema');
      const refused = await app.inject({ method: 'POST', url: '/', payload: { count: 'x' } });
      assert.equal(refused.statusCode, 400);
      const unknown = await app.inject({ method: 'POST', url: '/', payload: { count: 1, other: 1 } });
      assert.equal(unknown.statusCode, 400);
      const badDate = await app.inject({ method: 'POST', url: '/', payload: { count: 1, when: 'yesterday' } });
      assert.equal(badDate.statusCode, 400, 'formats are checked');
      const date = await app.inject({ method: 'POST', url: '/', payload: { count: 1, when: '2026-12-04T10:00:00Z' } });
      assert.equal(date.statusCode, 200);
      // Header schemas keep Fastify's case-insensitive treatment: `X-Trace` is checked as `x-trace`.
      const header = await app.inject({
        method: 'POST',
        url: '/',
        payload: { count: 1 },
        headers: { 'x-trace': 'too long' },
      });
      assert.equal(header.statusCode, 400);
    }
  } finally {
    await a.close();
    await b.close();
  }
});

const child = process.env.SCHEMA_CACHE_CHILD !== undefined;

test('a second process builds its validators and serializers from the code the first left', { skip: child }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-schema-cache-'));
  const run = (cache = dir) =>
    spawnSync(
      process.execPath,
      [...process.execArgv.filter((a) => !a.startsWith('--test')), fileURLToPath(import.meta.url)],
      {
        env: { ...process.env, HOIST_SCHEMA_CACHE: cache, SCHEMA_CACHE_CHILD: '1' },
        encoding: 'utf8',
      },
    );
  const files = () => new Map(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).ino]));
  try {
    const first = run();
    assert.equal(first.status, 0, first.stdout + first.stderr);
    const written = files();
    assert.ok(written.size >= 3, 'a body validator, a header validator and a serializer kept as code');
    const second = run();
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.deepEqual(files(), written, 'read, not compiled and written again');
    // A file that is not the code it should be is compiled anew.
    for (const f of written.keys()) writeFileSync(join(dir, f), 'this is not javascript {');
    const third = run();
    assert.equal(third.status, 0, third.stdout + third.stderr);
    // A directory that cannot be made or written: nothing kept, the server built as without one.
    const unusable = run(join(dir, Array.from(written.keys())[0] as string, 'below-a-file'));
    assert.equal(unusable.status, 0, unusable.stdout + unusable.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
