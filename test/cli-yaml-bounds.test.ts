/**
 * Every YAML file the CLI reads goes through one bounded loader (src/config/yaml-input.ts), checked at each entry
 * point against a real `hoist serve`: `hoist apply -f`, `hoist rule create -f` and `hoist policy apply -f` refuse a
 * "billion laughs" document (72 aliases nested nine deep: 387 million nodes once expanded) and a document of more than
 * 100 aliases before expanding anything, and a file over 4 MiB before reading it; each error names the file and the
 * limit, and nothing reaches the server. Ordinary files, with a few aliases, still work through the same commands
 * (the positive control).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_YAML_ALIASES, MAX_YAML_ALIAS_NODES, MAX_YAML_BYTES } from '../src/config/yaml-input.ts';
import { runCli, signedInCli, type SignedInCli } from './helpers/run-cli.ts';

let cli: SignedInCli;
let dir: string;
let env: Record<string, string>;
let hoist: SignedInCli['hoist'];

/** Nine levels, each a list of nine aliases of the level before: 9^9 "lol" once expanded, 72 aliases in the text. */
function billionLaughs(top: string): string {
  const levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array.from({ length: 9 }, () => `*${prev}`).join(', ')}]`);
  }
  return `${top}laughs:\n${levels.map((l) => `  ${l}`).join('\n')}\n`;
}
/** More aliases than the limit, each of one scalar (nothing to expand: the count alone is refused). */
const manyAliases = (top: string) =>
  `${top}x: &x 1\nmany: [${Array.from({ length: MAX_YAML_ALIASES + 1 }, () => '*x').join(', ')}]\n`;

before(async () => {
  cli = await signedInCli('cli-yaml-bounds', { HOIST_OUTBOUND_ALLOW: '127.0.0.0/8' });
  ({ dir, env, hoist } = cli);
});
after(() => cli?.stop());

test('hoist apply, rule create and policy apply read ordinary YAML files, aliases included', async () => {
  const config = join(dir, 'hoist.yaml');
  await writeFile(
    config,
    [
      'apiVersion: hoist/v1',
      'registries:',
      '  - { name: local, url: "http://127.0.0.1:9" }',
      'projects:',
      '  - name: shop',
      '    namespaces: [{ registry: local, prefix: shop/ }]',
      '    applications: [web]',
      '    environments:',
      '      - { name: dev, kind: repository, registry: local, repository: "shop/dev/{app}" }',
      '      - { name: prod, kind: repository, registry: local, repository: "shop/prod/{app}" }',
      '    pipeline: ["dev -> prod"]',
      '',
    ].join('\n'),
  );
  assert.match(await hoist(['apply', '-f', config]), /applied \d+ changes/);
  const rule = join(dir, 'rule.yaml');
  await writeFile(
    rule,
    'name: releases\nfrom: &from dev\nto: prod\ncriteria:\n  - { field: tag, op: startsWith, value: v }\n',
  );
  assert.match(await hoist(['rule', 'create', '-f', rule, '--project', 'shop', '-o', 'json']), /"releases"/);
  await hoist(['policy', 'create', '--name=prod-gate', '--approverCount=1']);
  const policy = join(dir, 'policy.yaml');
  await writeFile(
    policy,
    [
      'kind: artifactPromotionPolicy',
      'spec:',
      '  payload:',
      '    applyToPolicyNames: [prod-gate]',
      '    applicationEnvironments:',
      '      - &prod { appName: web, envName: prod, projectName: shop }',
      '',
    ].join('\n'),
  );
  assert.match(await hoist(['policy', 'apply', '-f', policy, '-o', 'json']), /prod-gate/);
});

for (const [what, args, top] of [
  ['hoist apply -f', (f: string) => ['apply', '-f', f], 'apiVersion: hoist/v1\n'],
  [
    'hoist rule create -f',
    (f: string) => ['rule', 'create', '-f', f, '--project', 'shop'],
    'name: r\nfrom: dev\nto: prod\n',
  ],
  ['hoist policy apply -f', (f: string) => ['policy', 'apply', '-f', f], 'kind: artifactPromotionPolicy\n'],
] as const) {
  test(`${what}: a billion-laughs file, too many aliases and a file over 4 MiB are refused, naming the file and the limit`, async () => {
    const slug = what.replaceAll(/\W+/g, '-');
    const bomb = join(dir, `${slug}-bomb.yaml`);
    await writeFile(bomb, billionLaughs(top));
    const started = Date.now();
    const r = await runCli(args(bomb), env);
    assert.equal(r.code, 2, `${r.code} ${r.stdout} ${r.stderr}`);
    assert.ok(
      r.stderr.includes(bomb) &&
        r.stderr.includes(
          `the aliases (*name) would expand to more than ${MAX_YAML_ALIAS_NODES.toLocaleString('en')} nodes (refused before expanding them)`,
        ),
      r.stderr,
    );
    assert.ok(Date.now() - started < 30_000, 'refused at once, not after expanding');

    const many = join(dir, `${slug}-many.yaml`);
    await writeFile(many, manyAliases(top));
    const m = await runCli(args(many), env);
    assert.equal(m.code, 2, m.stderr);
    assert.ok(
      m.stderr.includes(many) &&
        m.stderr.includes(`${MAX_YAML_ALIASES + 1} aliases (*name) are over the limit of ${MAX_YAML_ALIASES}`),
      m.stderr,
    );

    const big = join(dir, `${slug}-big.yaml`);
    await writeFile(big, `${top}# ${'x'.repeat(MAX_YAML_BYTES)}\n`);
    const b = await runCli(args(big), env);
    assert.equal(b.code, 2, b.stderr);
    assert.ok(b.stderr.includes(`${big} is larger than the limit of 4 MiB for a YAML file`), b.stderr);
  });
}

test('nothing of the refused files reached the server', async () => {
  const rules = JSON.parse(await hoist(['rule', 'list', '--project', 'shop', '-o', 'json'])) as { name: string }[];
  assert.deepEqual(
    rules.map((r) => r.name),
    ['releases'],
  );
});
