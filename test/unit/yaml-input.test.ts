/**
 * The bounded YAML loader (src/config/yaml-input.ts) on its own and where the server reads YAML (the files a GitOps
 * write-back edits): a billion-laughs document is refused from its parse, without expanding it, in milliseconds and
 * without the memory an expansion takes; a self-referencing anchor is refused too; ordinary anchors pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadYamlFile,
  MAX_YAML_ALIAS_NODES,
  MAX_YAML_BYTES,
  parseYamlDocument,
  parseYamlDocuments,
  readYamlFile,
} from '../../src/config/yaml-input.ts';
import { parseConfig } from '../../src/config/config-file.ts';
import { editFile } from '../../src/gitops/yaml-edit.ts';

/** Levels of nine aliases of the level before: 9^levels nodes once expanded. */
function laughs(levels: number): string {
  const out = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < levels; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    out.push(`${name}: &${name} [${Array.from({ length: 9 }, () => `*${prev}`).join(', ')}]`);
  }
  return `${out.join('\n')}\n`;
}

test('a billion-laughs document is refused at parse time, before expansion, naming the limit and where', () => {
  const heap = process.memoryUsage().heapUsed;
  const started = performance.now();
  const r = parseYamlDocument(laughs(9));
  const took = performance.now() - started;
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? undefined : r.problem, {
    line: 5,
    col: 8,
    limit: true,
    message: `the aliases (*name) would expand to more than ${MAX_YAML_ALIAS_NODES.toLocaleString('en')} nodes (refused before expanding them)`,
  });
  assert.ok(took < 1000, `${took.toFixed(0)} ms`);
  assert.ok(process.memoryUsage().heapUsed - heap < 64 * 1024 * 1024, 'nothing was expanded');
  // The same document, two levels shallower, is within the limit and loads.
  const small = parseYamlDocument(laughs(3));
  assert.ok(small.ok);
  assert.equal((small.value.toJS({ maxAliasCount: -1 }) as { c: string[][] }).c.flat().length, 81);
});

test('an anchor that contains an alias of itself is refused, not followed forever', () => {
  const r = parseYamlDocument('a: &a [1, *a]\n');
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.problem.message, /would expand to more than/);
});

test('files: over 4 MiB refused before reading, and every problem names the file, line and column', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-yaml-input-'));
  try {
    const big = join(dir, 'big.yaml');
    await writeFile(big, `# ${'x'.repeat(MAX_YAML_BYTES)}\n`);
    assert.throws(() => readYamlFile(big, '-f'), {
      message: `-f: ${big} is larger than the limit of 4 MiB for a YAML file (4,194,307 bytes)`,
    });
    const bomb = join(dir, 'bomb.yaml');
    await writeFile(bomb, laughs(9));
    assert.throws(() => loadYamlFile(bomb, '-f'), { message: new RegExp(`^-f: ${bomb}:5:8: the aliases`) });
    const ok = join(dir, 'ok.yaml');
    await writeFile(ok, 'base: &b { team: shop }\nweb: *b\n');
    assert.deepEqual(loadYamlFile(ok, '-f'), { base: { team: 'shop' }, web: { team: 'shop' } });
    assert.throws(() => loadYamlFile(join(dir, 'missing.yaml'), '-f'), /cannot read .*missing\.yaml: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hoist apply files: the same limits, reported as a problem of the file', () => {
  const r = parseConfig(`apiVersion: hoist/v1\n${laughs(9)}`, 'hoist.yaml');
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /^hoist\.yaml:6:8: the aliases \(\*name\) would expand to more than 10,000 nodes/);
});

test('GitOps write-back: a deployment file in the repository with a YAML bomb is refused, not expanded', () => {
  const values = `image:\n  repository: shop/web\n  tag: "1.0"\n${laughs(9)}`;
  const helm = editFile(values, { kind: 'helm', key: 'image.tag', digest: `sha256:${'a'.repeat(64)}` });
  assert.equal(helm.ok, false);
  assert.match(
    helm.ok ? '' : helm.error,
    /^the aliases \(\*name\) would expand to more than 10,000 nodes .*\(line 8, column 8\)/,
  );
  const manifests = editFile(`kind: Pod\n---\n${laughs(9)}`, {
    kind: 'manifests',
    image: 'shop/web',
    digest: `sha256:${'a'.repeat(64)}`,
  });
  assert.equal(manifests.ok, false);
  assert.equal(parseYamlDocuments('a: &x 1\n---\nb: *x\n').ok, true, 'an alias does not reach into another document');
});
