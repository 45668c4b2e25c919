/**
 * src/api/schema-cache.ts: two servers with the same route share its compiled validator and serializer, and each still
 * validates (coercion, defaults, refusals), lower-cases header schemas as Fastify does, and serializes by its schema.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify, { type FastifyRequest } from 'fastify';
import { buildSerializer, cacheValidators } from '../../src/api/schema-cache.ts';

const validators: unknown[] = [];
const body = {
  type: 'object',
  properties: { count: { type: 'integer' }, name: { type: 'string', default: 'none' } },
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
      properties: { count: { type: 'integer' }, name: { type: 'string' }, same: { type: 'boolean' } },
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
