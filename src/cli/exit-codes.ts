/**
 * The one place where errors become exit codes and messages: 0 done, 1 a registry, network or server failure (with the
 * registry's own error code) or anything else, 2 bad usage or bad input (naming the bad part), 3 refused: the answer
 * was given and it is no (`hoist check-deploy` for a digest that may not run there, `hoist verify` for an image whose
 * signed promotions do not reach the environment). The README lists them.
 */
import { ApiError, DigestMismatch, HoistError, InvalidInput, NetworkError, RegistryError } from '../errors.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The question was answered, and the answer is no: a scripted gate can tell it from a failure to ask. */
export const EXIT_REFUSED = 3;

export function exitCodeFor(e: unknown): number {
  if (e instanceof InvalidInput) return EXIT_USAGE;
  if (e instanceof ApiError && e.status === 400) return EXIT_USAGE;
  if ((e as { code?: unknown }).code === 'commander.usage') return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** A failed run, told: its message on stderr and its exit code as the process's. */
export function reportFailure(e: unknown): void {
  process.stderr.write(`${describeError(e)}\n`);
  process.exitCode = exitCodeFor(e);
}

/** Whether a role would lift a 403 (the server says so; refusals like separation of duties say no). */
function roleHelps(e: ApiError): boolean {
  const d = e.details as { roleHelps?: unknown } | undefined;
  return d?.roleHelps !== false;
}

/** One or two lines for a person: what failed, and what to do next where we can tell. */
export function describeError(e: unknown): string {
  if (e instanceof RegistryError) {
    const hint =
      e.status === 401
        ? '\nhint: check the credentials (--src-creds/--dest-creds USER:PASS or docker login)'
        : e.status === 403 || e.registryCode === 'DENIED'
          ? '\nhint: the account lacks permission for this repository'
          : e.registryCode === 'MANIFEST_UNKNOWN' || e.registryCode === 'NAME_UNKNOWN'
            ? '\nhint: check the repository name and tag (hoist tags REPO lists tags)'
            : '';
    return `error: ${e.message} [${e.registryCode}]${hint}`;
  }
  if (e instanceof DigestMismatch)
    return `error: ${e.message}\nhint: the source registry sent corrupt content; nothing was tagged at the destination`;
  if (e instanceof NetworkError) {
    return `error: ${e.message}\nhint: is the registry running and reachable? For a plain-HTTP registry pass --insecure-registry HOST:PORT`;
  }
  if (e instanceof ApiError) {
    const hint =
      e.status === 401
        ? '\nhint: run hoist login --server URL'
        : e.status === 403 && roleHelps(e)
          ? '\nhint: ask a project owner or an admin for the role'
          : '';
    return `error: ${e.message} [${e.apiCode}]${hint}`;
  }
  if (e instanceof HoistError) return `error: ${e.message}`;
  if (e instanceof Error && e.name === 'AbortError') return 'error: interrupted';
  return `error: ${e instanceof Error ? e.message : String(e)}`;
}
