/**
 * The scene of bench:load and bench:load:where: a project `bench` with the application `web`, environments dev and
 * staging in a real registry (dev → staging), 20 more projects (so that the simple GET answers a page, not an empty
 * list), and `images` images pushed to dev and registered, ready to promote. Answers their digests.
 */
import type { HoistClient } from '../../src/client/index.ts';
import { buildImage } from '../../test/harness/images.ts';
import { pushImage } from '../../test/harness/push.ts';

export async function setUpLoadScene(
  c: HoistClient,
  registry: { host: string; url: string },
  images: number,
): Promise<string[]> {
  await c.registries.put({ name: 'local', url: `http://${registry.host}` });
  await c.projects.create('bench');
  await c.projects.addApplication('bench', 'web');
  for (const prefix of ['dev/', 'staging/']) await c.projects.grantNamespace('bench', 'local', prefix);
  for (const name of ['dev', 'staging'])
    await c.environments.put('bench', { name, kind: 'repository', registry: 'local', repository: `${name}/{app}` });
  await c.environments.setPipeline('bench', [{ from: 'dev', to: 'staging' }]);
  for (let i = 0; i < 20; i++) await c.projects.create(`p${String(i).padStart(2, '0')}`);

  process.stderr.write(`seeding ${images} images\n`);
  const digests: string[] = [];
  for (let i = 0; i < images; i++) {
    const img = buildImage({ layers: [4096, 1024] });
    await pushImage(registry.url, 'dev/web', img, { tag: `b${i}` });
    await c.artifacts.register('bench', 'web', { reference: `${registry.host}/dev/web:b${i}` });
    digests.push(img.digest);
  }
  return digests;
}
