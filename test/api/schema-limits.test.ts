/**
 * Every string a caller sends has a bound in its schema: the test walks the server's OpenAPI document (request bodies,
 * path, query and header parameters, through every $ref) and names each string without a maxLength, a bounded
 * pattern or an enumeration, each array without maxItems and each map without maxProperties and bounded keys. Then,
 * at the API on both backends: a 1 MB application name, registry URL or repository template is a 400 in the error
 * shape naming the field, and nothing is written (no row, no audit entry).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openApiDocument } from '../../src/api/openapi-document.ts';
import { caller, startApi, type Call, type TestApi } from '../helpers/api.ts';
import { BACKENDS } from '../helpers/backends.ts';

type Schema = Record<string, unknown>;

/** An anchored pattern without an unbounded quantifier (`*`, `+`, `{n,}`) allows only strings of bounded length. */
export function patternBounds(pattern: string): boolean {
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$')) return false;
  const body = pattern.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
  return !/[*+]|\{\d+,\}/.test(body);
}

/** Where the schema lets a caller send an unbounded string, array or map: the paths of the offenders. */
export function unbounded(doc: Schema, root: Schema, where: string): string[] {
  const components = ((doc.components as Schema | undefined)?.schemas ?? {}) as Record<string, Schema>;
  const found: string[] = [];
  const seen = new Set<Schema>();
  const walk = (node: Schema, path: string): void => {
    const ref = node.$ref;
    if (typeof ref === 'string') {
      const target = components[ref.replace('#/components/schemas/', '')];
      if (target === undefined) throw new Error(`${path}: unresolved ${ref}`);
      if (seen.has(target)) return;
      seen.add(target);
      walk(target, `${path}(${ref.split('/').pop()})`);
      seen.delete(target);
      return;
    }
    for (const key of ['anyOf', 'oneOf', 'allOf'] as const)
      for (const [i, branch] of ((node[key] as Schema[] | undefined) ?? []).entries()) walk(branch, `${path}|${i}`);
    const types = [node.type].flat();
    if (types.includes('string')) {
      const bounded =
        typeof node.maxLength === 'number' ||
        Array.isArray(node.enum) ||
        'const' in node ||
        (typeof node.pattern === 'string' && patternBounds(node.pattern));
      if (!bounded) found.push(`${path}: string without maxLength`);
    }
    if (types.includes('array')) {
      if (typeof node.maxItems !== 'number') found.push(`${path}: array without maxItems`);
      if (node.items && typeof node.items === 'object') walk(node.items as Schema, `${path}[]`);
    }
    for (const [name, child] of Object.entries((node.properties as Record<string, Schema> | undefined) ?? {}))
      walk(child, `${path}.${name}`);
    const maps = [
      ...(typeof node.additionalProperties === 'object' ? [node.additionalProperties as Schema] : []),
      ...Object.values((node.patternProperties as Record<string, Schema> | undefined) ?? {}),
    ];
    if (maps.length > 0) {
      if (typeof node.maxProperties !== 'number') found.push(`${path}: map without maxProperties`);
      const keys = node.propertyNames as Schema | undefined;
      if (typeof keys?.maxLength !== 'number') found.push(`${path}: map without propertyNames.maxLength`);
      for (const value of maps) walk(value, `${path}{}`);
    }
  };
  walk(root, where);
  return found;
}

test('every string, array and map a request carries has a bound in the OpenAPI document', async () => {
  const doc = (await openApiDocument()) as Schema;
  const problems: string[] = [];
  let strings = 0;
  for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, Schema>>)) {
    for (const [method, op] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`;
      for (const p of (op.parameters as Schema[] | undefined) ?? []) {
        strings++;
        problems.push(...unbounded(doc, p.schema as Schema, `${name} ${String(p.in)}.${String(p.name)}`));
      }
      const content = ((op.requestBody as Schema | undefined)?.content ?? {}) as Record<string, Schema>;
      for (const [type, media] of Object.entries(content)) {
        strings++;
        problems.push(...unbounded(doc, media.schema as Schema, `${name} body(${type})`));
      }
    }
  }
  assert.ok(strings > 100, `the walk saw ${strings} parameters and bodies`);
  assert.deepEqual(problems, []);
});

test('the walk finds what it should (a check of the check)', () => {
  const doc = {
    components: { schemas: { Edge: { type: 'object', properties: { from: { type: 'string' } } } } },
  };
  assert.deepEqual(
    unbounded(
      doc,
      {
        type: 'object',
        properties: {
          ok: { type: 'string', maxLength: 3 },
          kind: { anyOf: [{ type: 'string', const: 'a' }, { type: 'null' }] },
          name: { type: 'string', pattern: '^[a-z]{1,63}$' },
          cursor: { type: 'string', pattern: '^[0-9]+$' },
          edges: { type: 'array', items: { $ref: '#/components/schemas/Edge' } },
          labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 9 } },
        },
      },
      'x',
    ),
    [
      'x.cursor: string without maxLength',
      'x.edges: array without maxItems',
      'x.edges[](Edge).from: string without maxLength',
      'x.labels: map without maxProperties',
      'x.labels: map without propertyNames.maxLength',
    ],
  );
  assert.equal(patternBounds('^sha256:[0-9a-f]{64}$'), true);
  assert.equal(patternBounds('^[a-z0-9][a-z0-9-]{0,62}$'), true);
  assert.equal(patternBounds('^[0-9]+$'), false);
  assert.equal(patternBounds('^a{2,}$'), false);
  assert.equal(patternBounds('[a-z]{1,3}'), false);
});

// 1 MB, under the 1 MiB body limit (a bigger body is a 413 before any schema looks at it).
const MEGABYTE = 'a'.repeat(1_000_000);

for (const backend of BACKENDS) {
  describe(`1 MB fields are refused before anything is written (${backend})`, () => {
    let api: TestApi;
    let call: Call;
    before(async () => {
      api = await startApi(backend);
      call = caller(api.app, await api.tokenFor('root', { admin: true }));
      assert.equal((await call('POST', '/api/v1/projects', { name: 'shop' })).status, 201);
      assert.equal((await call('PUT', '/api/v1/registries/local', { url: '127.0.0.1:5000' })).status, 200);
      assert.equal(
        (await call('PUT', '/api/v1/projects/shop/namespaces', { registry: 'local', prefix: 'shop/' })).status,
        200,
      );
    });
    after(() => api?.close());

    const auditRows = async (): Promise<number> => {
      const r = await call('GET', '/api/v1/audit?limit=1000');
      assert.equal(r.status, 200);
      return r.body.items.length;
    };

    const refused = async (method: string, url: string, payload: unknown, field: string): Promise<void> => {
      const before = await auditRows();
      const r = await call(method, url, payload);
      assert.equal(r.status, 400, `${method} ${url}: ${JSON.stringify(r.body).slice(0, 300)}`);
      assert.deepEqual(Object.keys(r.body), ['error']);
      assert.equal(r.body.error.code, 'VALIDATION_FAILED');
      assert.equal(r.body.error.details?.field, field);
      assert.match(r.body.error.message, new RegExp(`^${field.replace('.', '\\.')}: `));
      assert.ok(r.body.error.message.length < 300, 'the message does not repeat the value');
      assert.equal(await auditRows(), before, 'no audit entry');
    };

    test('a 1 MB application name', async () => {
      await refused('POST', '/api/v1/projects/shop/applications', { name: MEGABYTE }, 'body.name');
      assert.deepEqual((await call('GET', '/api/v1/projects/shop/applications')).body.items, []);
      // Over the limit as a path parameter; far over it, Fastify refuses the path (414) in the same shape.
      const r = await call('DELETE', `/api/v1/projects/shop/applications/${'a'.repeat(200)}`);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.details?.field, 'params.app');
      const far = await call('DELETE', `/api/v1/projects/shop/applications/${'a'.repeat(4096)}`);
      assert.equal(far.status, 414);
      assert.deepEqual(Object.keys(far.body), ['error']);
    });

    test('a 1 MB registry URL', async () => {
      await refused('PUT', '/api/v1/registries/big', { url: `https://${MEGABYTE}` }, 'body.url');
      await refused('POST', '/api/v1/registries', { name: 'big', url: MEGABYTE }, 'body.url');
      assert.equal((await call('GET', '/api/v1/registries/big')).status, 404);
    });

    test('a 1 MB repository template', async () => {
      await refused(
        'PUT',
        '/api/v1/projects/shop/environments/dev',
        { kind: 'repository', registry: 'local', repository: `shop/${MEGABYTE}/{app}` },
        'body.repository',
      );
      assert.equal((await call('GET', '/api/v1/projects/shop/environments/dev')).status, 404);
      // At the limit it is the service that answers (here: the template is fine, and the environment is made).
      const fine = await call('PUT', '/api/v1/projects/shop/environments/dev', {
        kind: 'repository',
        registry: 'local',
        repository: `shop/${'a'.repeat(200)}/{app}`,
      });
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
    });
  });
}
