/**
 * The API contract: the committed openapi.json and client types are what the server generates; every operation has
 * a stable operationId and a schema for each success answer; the main resources are named components.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderContractFiles } from '../../scripts/openapi-files.ts';

interface Operation {
  operationId?: string;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

const files = await renderContractFiles();
const doc = JSON.parse(files.find((f) => f.path === 'openapi.json')!.text) as Document;

test('the committed openapi.json and src/client/openapi.ts are what the server generates (npm run openapi)', () => {
  for (const file of files) assert.equal(readFileSync(file.path, 'utf8'), file.text, `${file.path} is stale`);
});

test('every operation has a unique camelCase operationId and a schema for each success answer', () => {
  const seen = new Map<string, string>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.match(op.operationId ?? '', /^[a-z][a-zA-Z0-9]+$/, `${where} has no camelCase operationId`);
      assert.equal(seen.get(op.operationId!), undefined, `${where} repeats operationId ${op.operationId}`);
      seen.set(op.operationId!, where);
      const success = Object.entries(op.responses ?? {}).filter(([status]) => status.startsWith('2'));
      assert.ok(success.length > 0, `${where} documents no success answer`);
      for (const [status, response] of success) {
        if (status === '204') continue;
        // JSON answers, and the event stream's text/event-stream, each say what they carry.
        const schemas = Object.values(response.content ?? {}).filter((c) => c.schema !== undefined);
        assert.ok(schemas.length > 0, `${where} ${status} has no response schema`);
      }
    }
  }
  assert.ok(seen.size >= 78, `only ${seen.size} operations`);
});

test('the main resources are components referenced by $ref, and a target says why it waits (blockedBy)', () => {
  const names = Object.keys(doc.components.schemas);
  for (const name of [
    'Promotion',
    'Target',
    'Blocker',
    'Verdict',
    'Artifact',
    'Environment',
    'Project',
    'Registry',
    'Policy',
    'Rule',
    'Binding',
    'AuditEntry',
    'Error',
    'Me',
  ]) {
    assert.ok(names.includes(name), `no component ${name}`);
  }
  const get = doc.paths['/api/v1/projects/{project}/promotions/{id}']!.get!;
  assert.deepEqual(get.responses!['200']!.content!['application/json']!.schema, {
    $ref: '#/components/schemas/Promotion',
  });
  assert.deepEqual(get.responses!['404']!.content!['application/json']!.schema, { $ref: '#/components/schemas/Error' });
  const promotion = doc.components.schemas.Promotion as { properties: { targets: unknown } };
  assert.deepEqual(promotion.properties.targets, { type: 'array', items: { $ref: '#/components/schemas/Target' } });
  const target = doc.components.schemas.Target as { properties: { blockedBy: unknown; verdict: unknown } };
  assert.deepEqual(target.properties.blockedBy, { type: 'array', items: { $ref: '#/components/schemas/Blocker' } });
  assert.match(JSON.stringify(target.properties.verdict), /#\/components\/schemas\/Verdict/);
});
