// Runs one `docker-registry serve CONFIG` child and knows when it is ready: its stdout and stderr go to a log file
// (no pipes to fill up), it is started under `setpriv --pdeathsig KILL` when available so it dies with the test
// process even on SIGKILL, and it is ready once `GET /v2/` answers with our instance header. Failing to bind the
// port is reported as PortInUse so the caller can retry on another port; any other early exit or a 10 s timeout
// throws with the tail of the registry's log.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackProcess, untrackProcess } from './cleanup.ts';
import { INSTANCE_HEADER } from './registry-config.ts';

export class PortInUse extends Error {}

export interface RegistryProcess {
  pid: number;
  /** SIGTERM, then SIGKILL after 2 s; resolves once the child has exited. */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  configPath: string;
  logPath: string;
  port: number;
  instanceId: string;
  timeoutMs?: number;
}

const SETPRIV = '/usr/bin/setpriv';

export async function launchRegistry(opts: LaunchOptions): Promise<RegistryProcess> {
  const logFd = openSync(opts.logPath, 'w'); // fresh per attempt, so an old failure is not read as this one's
  const [command, args] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', 'docker-registry', 'serve', opts.configPath]]
    : ['docker-registry', ['serve', opts.configPath]];
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  if (child.pid !== undefined) trackProcess(child.pid);

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    if (child.pid !== undefined) untrackProcess(child.pid);
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (spawnError !== undefined) {
      await stop();
      throw new Error(`registry: cannot start docker-registry: ${spawnError.message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = await logTail(opts.logPath);
      if (child.pid !== undefined) untrackProcess(child.pid);
      if (/address already in use/i.test(tail)) throw new PortInUse(`port ${opts.port} is taken`);
      throw new Error(
        `registry: docker-registry exited (${child.exitCode ?? child.signalCode}) before it was ready; log:\n${tail}`,
      );
    }
    if (await answers(opts.port, opts.instanceId)) return { pid: child.pid ?? 0, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(
    `registry: not ready on 127.0.0.1:${opts.port} after ${opts.timeoutMs ?? 10_000} ms; log:\n` +
      (await logTail(opts.logPath)),
  );
}

async function answers(port: number, instanceId: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.headers.get(INSTANCE_HEADER) === instanceId;
  } catch {
    return false;
  }
}

/** The last few kilobytes of a log file, for error messages. */
export async function logTail(path: string, bytes = 4096): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const start = Math.max(0, size - bytes);
      const buf = Buffer.alloc(size - start);
      await file.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
}
