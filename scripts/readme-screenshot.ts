/**
 * `npm run docs:screenshot`: the README's picture of the console, taken from the `npm start` demo as a new user sees
 * it. Starts scripts/start.ts on free ports with a throw-away data directory, promotes the demo image dev → staging
 * (copied, PROMOTED) and asks for staging → prod (waits for rita's approval), then signs in as admin in Chromium and
 * writes the shop board to docs/console-board.png (a PNG of the viewport, refused above 200 KB). Stops the demo.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/helpers/browser.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(root, 'docs', 'console-board.png');
const MAX_BYTES = 200 * 1024;
const PASSWORD = 'hoist-demo';

/** A free loopback port, and the one after it free too (the demo's two registries take port and port + 1). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const port = await freePort();
const registryPort = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'hoist-screenshot-'));
const demo = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'start.ts')], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  detached: true,
  env: {
    ...process.env,
    HOIST_PORT: String(port),
    REGISTRY_PORT: String(registryPort),
    HOIST_DEMO_DATA_DIR: dataDir,
    HOIST_ADMIN_PASSWORD: PASSWORD,
  },
});
const stopDemo = async (): Promise<void> => {
  if (demo.exitCode !== null) return;
  const exited = new Promise((resolve) => demo.once('exit', resolve));
  process.kill(-(demo.pid ?? 0), 'SIGTERM');
  await exited;
};

try {
  await new Promise<void>((resolve, reject) => {
    let out = '';
    demo.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('hoist is running')) resolve();
    });
    demo.once('exit', (code) => reject(new Error(`the demo exited (${code}) before it was running`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const login = await fetch(`${url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  const cookie = /hoist_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  if (!login.ok || cookie === undefined) throw new Error(`signing in failed: ${login.status}`);
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', cookie: `hoist_session=${cookie}`, 'x-csrf-token': csrfToken },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await r.json()) as { id: string; targets: Array<{ state: string }> };
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const web = '/api/v1/projects/shop/applications/web/promotions';
  const staging = await call('POST', web, { tag: '1.0', from: 'dev', to: ['staging'], comment: 'first release' });
  for (let i = 0; ; i++) {
    const now = await call('GET', `/api/v1/projects/shop/promotions/${staging.id}`);
    if (now.targets.every((t) => t.state === 'PROMOTED')) break;
    if (i > 300 || now.targets.some((t) => ['FAILED', 'REJECTED'].includes(t.state)))
      throw new Error(`dev → staging did not promote: ${JSON.stringify(now.targets)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await call('POST', web, { tag: '1.0', from: 'staging', to: ['prod'], comment: 'release 1.0' });

  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 640 } });
    await context.addCookies([{ name: 'hoist_session', value: cookie, url }]);
    const page = await context.newPage();
    await page.goto(`${url}/projects/shop`);
    await page
      .locator('[data-cell="web/prod"]')
      .getByText(/0\/1 approvals/)
      .waitFor();
    await page.screenshot({ path: OUT });
  } finally {
    await browser.close();
  }
  const bytes = statSync(OUT).size;
  if (bytes > MAX_BYTES) throw new Error(`${OUT} is ${bytes} bytes, over ${MAX_BYTES}`);
  process.stdout.write(`wrote ${OUT} (${Math.round(bytes / 1024)} KB)\n`);
} finally {
  await stopDemo();
  rmSync(dataDir, { recursive: true, force: true });
}
