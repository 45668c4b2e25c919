/**
 * `npm start`: hoist's main job on a fresh machine. Starts two local CNCF distribution registries, 127.0.0.1:5000
 * (dev and staging; its push events go to hoist) seeded with a signed three-platform image (dev/web:1.0) and
 * 127.0.0.1:5001 (prod), then `hoist serve` on 127.0.0.1:8080 with the embedded
 * database in ./.hoist, and applies examples/hoist.yaml (a `shop` project with dev → staging → prod) so there is a
 * pipeline to try. Ctrl-C stops both.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../test/harness/registry.ts';
import { buildArtifact, buildMultiPlatform, SBOM_ARTIFACT, SIGNATURE_ARTIFACT } from '../test/harness/images.ts';
import { pushImage, pushReferrer } from '../test/harness/push.ts';
import { HoistClient, signInForToken, type RuleInput } from '../src/client/index.ts';
import { parseConfig } from '../src/config/config-file.ts';
import { environmentInput, ruleInput } from '../src/config/config-plan.ts';
import { readFileSync } from 'node:fs';

const root = fileURLToPath(new URL('..', import.meta.url));
const port = Number(process.env.HOIST_PORT ?? 8080);
const registryPort = Number(process.env.REGISTRY_PORT ?? 5000);
const password = process.env.HOIST_ADMIN_PASSWORD ?? 'hoist-demo';
const ritaPassword = 'rita-demo-password';
// Where the embedded database lives (scripts/readme-screenshot.ts runs the demo in a throw-away one).
const dataDir = process.env.HOIST_DEMO_DATA_DIR ?? `${root}.hoist`;

// The registry tells hoist about every push (its notifications), authenticated by a hook secret set below.
const hookSecret = `demo-hook-${Date.now()}-secret`;
const registry = await startRegistry({
  port: registryPort,
  notificationsUrl: `http://127.0.0.1:${port}/api/v1/hooks/distribution`,
  notificationHeaders: { Authorization: `Bearer ${hookSecret}` },
});
// Production lives in a second registry: promoting to prod copies across registries.
const prodRegistry = await startRegistry({ port: registryPort + 1 });
const registryHosts: Record<string, string> = { local: registry.host, 'prod-registry': prodRegistry.host };
const image = buildMultiPlatform(3, [4 << 20, 1 << 20, 64 << 10]);
await pushImage(registry.url, 'dev/web', image, { tag: '1.0' });
await pushReferrer(registry.url, 'dev/web', buildArtifact(image, { artifactType: SIGNATURE_ARTIFACT }));
await pushReferrer(registry.url, 'dev/web', buildArtifact(image.children[0]!, { artifactType: SBOM_ARTIFACT }));

// bin/hoist is a shell script that picks Node 22 or newer, as a user runs it.
const server = spawn(
  `${root}bin/hoist`,
  ['serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn'],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
    // The demo registries listen on loopback: allow it (a real server lists its registries' ranges here).
    env: { HOIST_OUTBOUND_ALLOW: '127.0.0.0/8,::1/128', ...process.env, HOIST_ADMIN_PASSWORD: password },
  },
);
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  if (
    await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  if (server.exitCode !== null || i > 300) throw new Error('hoist serve did not start');
  await new Promise((r) => setTimeout(r, 200));
}

// Apply the example configuration as admin (through a short-lived API token).
try {
  const c = new HoistClient(url, await signInForToken(url, 'admin', password, `demo-${Date.now()}`, 1));
  const spec = parseConfig(readFileSync(`${root}examples/hoist.yaml`, 'utf8'), 'examples/hoist.yaml');
  if (spec.ok) {
    for (const r of spec.value.registries)
      await c.registries.put({ name: r.name, url: `http://${registryHosts[r.name] ?? registry.host}` });
    for (const p of spec.value.projects) {
      if (!(await c.projects.list()).some((x) => x.name === p.name)) await c.projects.create(p.name, p.description);
      for (const n of p.namespaces ?? []) await c.projects.grantNamespace(p.name, n.registry, n.prefix);
      for (const a of p.applications) await c.projects.addApplication(p.name, a);
      for (const [position, e] of p.environments.entries())
        await c.environments.put(p.name, environmentInput(e, position));
      await c.environments.setPipeline(p.name, p.pipeline);
      for (const r of p.rules)
        if (!(await c.rules.list(p.name)).some((x) => x.name === r.name))
          await c.rules.create(p.name, ruleInput(r) as RuleInput);
    }
    await c.events.setSecret('local', 'distribution', hookSecret);
  }
  // The promotion demo: a prod policy needing one approval, and a second person (rita, a promoter) to give it. The
  // demo image is not registered here: the first promotion reads it from the registry (register on first use).
  await c.policies.put({
    name: 'prod-gate',
    description: 'prod: signed images only, one approval',
    passConditions: ['signature.present'],
    failConditions: ['image.tag == "latest"'],
    approverCount: 1,
  });
  await c.policies.apply('prod-gate', [{ project: 'shop', application: 'web', environment: 'prod' }]);
  await c.users.create('rita', ritaPassword).catch(() => undefined);
  await c.projects.grant('shop', { username: 'rita', role: 'promoter', environments: null });
} catch (e) {
  process.stderr.write(
    `could not seed the demo (${(e as Error).message}); an older ./.hoist with another admin password? remove ./.hoist to start afresh\n`,
  );
}

process.stdout.write(`
hoist is running:
  web console         ${url}/  (sign in as admin / hoist-demo)
  API and reference   ${url}/api/v1/docs
  demo registries     ${registry.host} (dev, staging) with dev/web:1.0 (${image.digest}), signed;
                      ${prodRegistry.host} (prod)
  project shop        web: dev → staging → prod; prod needs one approval (policy prod-gate)
  automation          the registry's push events reach hoist; rule "releases" promotes dev/web:v* to staging
                      on its own (hoist events, hoist rule list --project shop)
  users               admin / ${password}, rita / ${ritaPassword} (a promoter)

Promote the demo image to prod (see README):
  ./bin/hoist login --server ${url}                                         # admin
  ./bin/hoist promote web --project shop --tag 1.0 --from dev --to staging --wait
  ./bin/hoist promote web --project shop --tag 1.0 --from staging --to prod
  ./bin/hoist login --server ${url} --username rita && ./bin/hoist approve ID --project shop --wait
  ./bin/hoist requests --project shop
Ctrl-C stops both.
`);

const stopRegistries = (): Promise<unknown> => Promise.all([registry.stop(), prodRegistry.stop()]);
const stop = (): void => {
  server.kill('SIGTERM');
  void stopRegistries().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
server.once('exit', (code) => {
  void stopRegistries().then(() => process.exit(code ?? 1));
});
