/**
 * `npm run bench:cel`: the measured choice of CEL library. The same policy condition is evaluated as fast as each
 * library can for ~1 s per round (median of 5 rounds): @marcbachmann/cel-js (hoist's choice: it also type-checks
 * against declared variables) and @bufbuild/cel (conformance-tested, untyped at check time), plus hoist's own
 * evaluatePolicy path (three conditions per policy). Target: ≥ 200k evaluations/s.
 */
import { celEnv, parse, plan } from '@bufbuild/cel';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileCondition } from '../../src/policy/condition.ts';
import { evaluatePolicy } from '../../src/policy/evaluate.ts';
import { policyVariables } from '../../src/policy/inputs.ts';
import { median } from '../copy/stats.ts';

const EXPR =
  'image.tag.startsWith("v") && scan.critical == 0 && scan.high <= 3 && image.labels["team"] == "shop" && "MIT" in sbom.licenses';
const vars = policyVariables({
  image: { repository: 'shop/web', tag: 'v1.2.3', digest: `sha256:${'a'.repeat(64)}`, labels: { team: 'shop' } },
  scan: { critical: 0, high: 2, medium: 1, low: 0 },
  sbom: { licenses: ['MIT', 'Apache-2.0'], components: [] },
});

function rate(fn: () => unknown): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 1000) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
    }
    rounds.push(n / ((performance.now() - start) / 1000));
  }
  return Math.round(median(rounds));
}

const ours = compileCondition(EXPR);
if (!ours.ok) throw new Error(ours.error);
const celJs = rate(() => ours.value.run(vars));
const buf = plan(celEnv(), parse(EXPR));
const toMap = (v: unknown): unknown =>
  v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
    ? new Map(Object.entries(v).map(([k, x]) => [k, toMap(x)]))
    : v;
const bufVars = toMap({ image: vars.image, scan: vars.scan, sbom: vars.sbom }) as Map<string, unknown>;
if (buf(Object.fromEntries(bufVars) as never) !== true) throw new Error('@bufbuild/cel disagrees');
const bufbuild = rate(() => buf(Object.fromEntries(bufVars) as never));
const policy = { pass: ['scan.critical == 0', 'image.tag.startsWith("v")'], fail: ['"AGPL-3.0" in sbom.licenses'] };
const policies = rate(() => evaluatePolicy(policy, vars));

const lines = [
  `@marcbachmann/cel-js   ${celJs.toLocaleString('en')} evaluations/s`,
  `@bufbuild/cel          ${bufbuild.toLocaleString('en')} evaluations/s  (cel-js is ${(celJs / bufbuild).toFixed(1)}× faster)`,
  `hoist evaluatePolicy   ${policies.toLocaleString('en')} policies/s (3 conditions each = ${(policies * 3).toLocaleString('en')} evaluations/s); target ≥ 200,000 evaluations/s: ${policies * 3 >= 200_000 ? 'PASS' : 'MISS'}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(
  `${dir}cel-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  `${JSON.stringify({ expression: EXPR, celJs, bufbuild, policiesPerSecond: policies, node: process.version }, null, 2)}\n`,
);
