/** Runs the built `hoist` CLI as a user would, capturing exit code and output. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedDataDir, startServe } from './serve.ts';

const ENTRY = fileURLToPath(new URL('../../dist/hoist.mjs', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ENTRY, ...args],
      { env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Like runCli, with `input` written to the CLI's standard input (for --password-stdin, --secret-stdin). */
export function runCliWithStdin(args: string[], input: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ENTRY, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(input);
  });
}

/** A `hoist serve` on a fresh data directory, and the CLI signed in to it as the admin with a config of its own. */
export interface SignedInCli {
  dir: string;
  env: Record<string, string>;
  /** Runs the CLI, asserting exit 0; answers stdout. */
  hoist(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function signedInCli(name: string, extraEnv: Record<string, string> = {}): Promise<SignedInCli> {
  const password = `${name}-password`;
  const dir = await mkdtemp(join(tmpdir(), `hoist-${name}-`));
  const env = { XDG_CONFIG_HOME: join(dir, 'config'), HOIST_ADMIN_PASSWORD: password, ...extraEnv };
  await seedDataDir(join(dir, 'data'));
  const server = await startServe({ dataDir: join(dir, 'data'), env });
  const login = await runCliWithStdin(['login', '--server', server.url, '--password-stdin'], `${password}\n`, env);
  assert.equal(login.code, 0, login.stderr);
  return {
    dir,
    env,
    async hoist(args) {
      const r = await runCli(args, env);
      assert.equal(r.code, 0, `hoist ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
    async stop() {
      server.proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
