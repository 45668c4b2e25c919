/**
 * Image references: `host[:port]/path[:tag][@digest]`, checked against the distribution reference grammar. A name
 * without a registry host means Docker Hub (`docker.io`, with `library/` for one-component names), as docker and
 * skopeo read it. Errors name the part that is wrong.
 */
import { InvalidInput } from '../errors.ts';
import type { Result } from '../result.ts';
import { checkDigest } from './digest.ts';

export interface Reference {
  /** Registry host with optional port, as written (`registry.example:5000`, `127.0.0.1:5000`, `docker.io`). */
  registry: string;
  /** Repository path inside the registry (`prod/web`). */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
/** A tag: 1-128 letters, digits, "_", "." and "-", not starting with "." or "-" (regex source, for API schemas). */
export const TAG_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$';
const TAG = new RegExp(TAG_PATTERN);
export const isTag = (s: string): boolean => TAG.test(s);
const IPV6 = /^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;
const NAME_MAX = 255;

function looksLikeHost(first: string): boolean {
  return (
    first.includes('.') ||
    first.includes(':') ||
    first === 'localhost' ||
    first.startsWith('[') ||
    first !== first.toLowerCase()
  );
}

function checkHost(host: string): string | undefined {
  if (IPV6.test(host)) return undefined;
  const [name, port, ...rest] = host.split(':');
  if (rest.length > 0 || name === undefined) return `registry host "${host}" has more than one ":"`;
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) return `registry port "${port}" is not a number`;
  if (port !== undefined && Number(port) > 65535) return `registry port "${port}" is out of range`;
  for (const c of name.split('.')) {
    if (!DOMAIN_COMPONENT.test(c)) return `registry host "${host}" is not a valid host name`;
  }
  return undefined;
}

/** Checks a repository path (`prod/web`) without a host. */
export function checkRepositoryPath(path: string): string | undefined {
  if (path === '') return 'repository path is empty';
  for (const c of path.split('/')) {
    if (c === '') return `repository path "${path}" has an empty component`;
    if (!PATH_COMPONENT.test(c)) {
      return `repository path component "${c}" must be lower-case letters and digits, separated by ".", "_", "__" or "-"`;
    }
  }
  return undefined;
}

/** Parses `host[:port]/path[:tag][@digest]`; a reference needs neither tag nor digest (`host/repo` alone is valid). */
export function checkReference(input: string): Result<Reference> {
  const fail = (error: string): Result<Reference> => ({ ok: false, error: `invalid reference "${input}": ${error}` });
  if (input === '') return fail('it is empty');
  if (/\s/.test(input)) return fail('it contains white space');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const d = checkDigest(digest);
    if (!d.ok) return fail(d.error);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      return fail(
        `tag "${tag}" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`,
      );
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = rest;
  if (slash >= 0 && looksLikeHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    repository = rest.slice(slash + 1);
    const hostError = checkHost(registry);
    if (hostError) return fail(hostError);
  } else if (slash < 0 && looksLikeHost(rest) && rest.includes(':') === false && rest.includes('.')) {
    return fail(`"${rest}" looks like a registry host but no repository follows it (write ${rest}/REPOSITORY)`);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  const pathError = checkRepositoryPath(repository);
  if (pathError) return fail(pathError);
  if (registry.length + 1 + repository.length > NAME_MAX) return fail(`the name is longer than ${NAME_MAX} characters`);
  const ref: Reference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return { ok: true, value: ref };
}

/** Like checkReference, but throws InvalidInput naming `where` (a flag or argument name). */
export function parseReference(input: string, where = 'reference'): Reference {
  const r = checkReference(input);
  if (!r.ok) throw new InvalidInput(r.error, where);
  return r.value;
}

export function checkTag(tag: string): string | undefined {
  return TAG.test(tag)
    ? undefined
    : `tag "${tag}" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`;
}

export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}
