/**
 * The handful of domain errors hoist throws. Code below the CLI and the API throws these; the CLI turns them into exit
 * codes in one place (src/cli/exit-codes.ts), the API into HTTP statuses in one place. Each carries a stable `code`
 * string so callers can branch without parsing messages.
 */

export abstract class HoistError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input from a user or a file was wrong (a reference, a digest, a flag). `where` names the bad part. */
export class InvalidInput extends HoistError {
  readonly code = 'INVALID_INPUT';
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
  }
}

/** One entry of a registry's error JSON: `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/** A registry answered with an error status. Carries the registry's own error codes and what was being done. */
export class RegistryError extends HoistError {
  readonly code = 'REGISTRY_ERROR';
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly errors: RegistryErrorEntry[],
  ) {
    const first = errors[0];
    const what = first ? `${first.code}: ${first.message}` : `HTTP ${status}`;
    super(`${operation} failed: ${what}${first ? ` (HTTP ${status})` : ''}`);
  }

  /** The registry's first error code (MANIFEST_UNKNOWN, BLOB_UNKNOWN, DENIED, ...), or `HTTP_<status>`. */
  get registryCode(): string {
    return this.errors[0]?.code ?? `HTTP_${this.status}`;
  }
}

/** Bytes received do not match the digest or size they were asked for: the source lied or the transfer broke. */
export class DigestMismatch extends HoistError {
  readonly code = 'DIGEST_MISMATCH';
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: expected ${expected}, got ${actual}; refusing the content`);
  }
}

/** The network failed: connection refused or reset, a time-out, a registry that went away mid-transfer. */
export class NetworkError extends HoistError {
  readonly code = 'NETWORK_ERROR';
  constructor(operation: string, cause: unknown) {
    const reason = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
    super(`${operation} failed: ${reason}`, { cause });
  }
}

/** A registry sent something that breaks the protocol (malformed JSON, a manifest over the size limit, no Location). */
export class ProtocolError extends HoistError {
  readonly code = 'PROTOCOL_ERROR';
}

/** A named object does not exist; `hint` says what to do about it, where hoist can tell. */
export class NotFound extends HoistError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly objectType: string,
    readonly objectName: string,
    hint?: string,
  ) {
    super(`${objectType} "${objectName}" does not exist${hint ? `; ${hint}` : ''}`);
  }
}

/** The change conflicts with what exists (a duplicate name, an object still in use, a refused state change). */
export class Conflict extends HoistError {
  readonly code = 'CONFLICT';
  constructor(
    message: string,
    /** What the conflict is with, as data (e.g. the waiting requests a policy deletion would make stale). */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The database cannot be used: unreachable, or migrated by a newer hoist. */
export class DatabaseUnavailable extends HoistError {
  readonly code = 'DATABASE_UNAVAILABLE';
}

/** The server is over its load limit (requests in flight, event-loop delay): refused at once, to be tried again. */
export class Overloaded extends HoistError {
  readonly code = 'OVERLOADED';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** No identity: not signed in, or an unknown, expired or revoked token. */
export class Unauthenticated extends HoistError {
  readonly code = 'UNAUTHENTICATED';
}

/**
 * An identity without the permission the action needs. `roleHelps` is false for refusals that no role lifts
 * (separation of duties, "only the requester can cancel", a browser without its CSRF header): telling that person to
 * ask for a role would send them the wrong way.
 */
export class Forbidden extends HoistError {
  readonly code = 'FORBIDDEN';
  readonly roleHelps: boolean;
  constructor(message: string, o: { roleHelps?: boolean } = {}) {
    super(message);
    this.roleHelps = o.roleHelps ?? true;
  }
}

/** hoist's server answered with an error (the client's side of the errors above): its status, code and message. */
export class ApiError extends HoistError {
  readonly code = 'API_ERROR';
  constructor(
    readonly status: number,
    readonly apiCode: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Refused for now (too many failed logins); retry after the given time. */
export class TooManyRequests extends HoistError {
  readonly code = 'TOO_MANY_REQUESTS';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
