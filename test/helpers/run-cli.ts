/** Runs the built `hoist` CLI as a user would, capturing exit code and output. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
