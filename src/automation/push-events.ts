/**
 * Parsing registry push notifications, which arrive from outside and are checked field by field: CNCF distribution
 * events (v1 and v2 envelopes, several events per body), Harbor webhooks (classic and CloudEvents forms) and a
 * generic `{repository, tag, digest}` form. Answers the pushes of manifests; pulls, deletes, mounts and blob pushes
 * are dropped unchecked. What identifies an image (id, repository, digest, tag) must be valid or the body is refused
 * with InvalidInput naming the JSON path of the bad part; optional details (media type, host, time, size) that do not
 * look right are left out. Only own properties are read, and nothing but InvalidInput is ever thrown.
 */
import { createHash } from 'node:crypto';
import { InvalidInput } from '../errors.ts';
import { isDigest } from '../oci/digest.ts';
import { isTag } from '../oci/reference.ts';

export interface PushEvent {
  /** Stable per event: registries retry, and the same id must not be worked twice. */
  id: string;
  repository: string;
  tag?: string;
  digest: string;
  mediaType?: string;
  /** The registry host the event names (`reg.example.com:5000`), if it names one. */
  host?: string;
  at?: Date;
  size?: number;
}

/** At most this many events (or Harbor resources, or generic items) in one body. */
export const MAX_EVENTS = 1000;
export const MAX_ID_LENGTH = 256;
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An own property only: a polluted prototype or a `__proto__` key must not supply values. */
const own = (o: Obj, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/** A bad value for a message, short and safe to build from anything. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const stableId = (...parts: Array<string | number | null>): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/** Runs a parser; anything but InvalidInput (a throwing getter, a proxy) becomes InvalidInput about the body. */
function guarded(parse: () => PushEvent[]): PushEvent[] {
  try {
    return parse();
  } catch (e) {
    if (e instanceof InvalidInput) throw e;
    throw new InvalidInput('the body could not be read', 'body');
  }
}

function object(v: unknown, where: string, what = 'not an object'): Obj {
  if (!isObj(v)) throw new InvalidInput(what, where);
  return v;
}

function list(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw new InvalidInput(`${show(v)} is not an array`, where);
  if (v.length > MAX_EVENTS) throw new InvalidInput(`${v.length} items in one body; at most ${MAX_EVENTS}`, where);
  return v;
}

function eventId(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '' || v.length > MAX_ID_LENGTH || CONTROL.test(v))
    throw new InvalidInput(`${show(v)} is not an event id (1 to ${MAX_ID_LENGTH} printable characters)`, where);
  return v;
}

function repository(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length > 255 || !REPOSITORY.test(v))
    throw new InvalidInput(`${show(v)} is not a repository name (lower-case path components such as team/web)`, where);
  return v;
}

function digest(v: unknown, where: string): string {
  if (typeof v !== 'string' || !isDigest(v))
    throw new InvalidInput(`${show(v)} is not a digest (sha256: followed by 64 lower-case hex digits)`, where);
  return v;
}

/** Absent, null or empty: no tag. */
function tag(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !isTag(v))
    throw new InvalidInput(
      `${show(v)} is not a tag (up to 128 letters, digits, "_", "." and "-", not starting with "." or "-")`,
      where,
    );
  return v;
}

/** An RFC 3339 string, or (Harbor's occur_at) seconds since the epoch. */
function time(v: unknown): Date | undefined {
  const ms = typeof v === 'string' && v.length <= 64 ? Date.parse(v) : typeof v === 'number' ? v * 1000 : NaN;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms) : undefined;
}

function host(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 261 && HOST.test(v) ? v : undefined;
}

function size(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** The media type without parameters, lower-cased; undefined unless a string. */
function mediaTypeOf(v: unknown): string | undefined {
  return typeof v === 'string' ? (v.split(';')[0] ?? '').trim().toLowerCase() : undefined;
}

/** Copies the optional details that are present, so absent ones stay absent keys. */
function withDetails(ev: PushEvent, details: Omit<Partial<PushEvent>, 'id' | 'repository' | 'digest'>): PushEvent {
  for (const [k, v] of Object.entries(details)) if (v !== undefined) Object.assign(ev, { [k]: v });
  return ev;
}

/** The target of a push is a manifest: a manifest media type, or none but a tag. Layers and configs are not. */
function isManifest(target: Obj): boolean {
  const mediaType = own(target, 'mediaType');
  if (mediaType === undefined || mediaType === null || mediaType === '') {
    const t = own(target, 'tag');
    return typeof t === 'string' && t !== '';
  }
  return MANIFEST_MEDIA_TYPES.has(mediaTypeOf(mediaType) ?? '');
}

function distributionEvent(e: unknown, where: string): PushEvent | undefined {
  const event = object(e, where);
  if (own(event, 'action') !== 'push') return undefined;
  const target = object(own(event, 'target'), `${where}.target`, 'missing or not an object');
  if (!isManifest(target)) return undefined;
  const ev: PushEvent = {
    id: eventId(own(event, 'id'), `${where}.id`),
    repository: repository(own(target, 'repository'), `${where}.target.repository`),
    digest: digest(own(target, 'digest'), `${where}.target.digest`),
  };
  const request = own(event, 'request');
  return withDetails(ev, {
    tag: tag(own(target, 'tag'), `${where}.target.tag`),
    mediaType: mediaTypeOf(own(target, 'mediaType')) || undefined,
    host: isObj(request) ? host(own(request, 'host')) : undefined,
    at: time(own(event, 'timestamp')),
    size: size(own(target, 'size')) ?? size(own(target, 'length')),
  });
}

/** CNCF distribution notifications: `{"events": [{id, timestamp, action, target: {mediaType, digest, repository, tag?}}]}`. */
export function parseDistributionEvents(body: unknown): PushEvent[] {
  return guarded(() => {
    const envelope = object(body, 'body', 'the body is not a JSON object with "events"');
    const events = list(own(envelope, 'events'), 'events');
    const out: PushEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const ev = distributionEvent(events[i], `events[${i}]`);
      if (ev) out.push(ev);
    }
    return out;
  });
}

/** Harbor names the repository `repo_full_name`, or `namespace` and `name`. */
function harborRepository(repo: Obj, where: string): string {
  const full = own(repo, 'repo_full_name');
  const namespace = own(repo, 'namespace');
  const name = own(repo, 'name');
  if (full === undefined && typeof namespace === 'string' && typeof name === 'string')
    return repository(`${namespace}/${name}`, `${where}.name`);
  return repository(full, `${where}.repo_full_name`);
}

/** `harbor.example.com/library/web:1.0` (perhaps with a scheme) → `harbor.example.com`. */
function hostOfResourceUrl(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length > 2048) return undefined;
  return host(v.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]);
}

interface HarborEnvelope {
  dataKey: 'data' | 'event_data';
  /** The id of the whole event, when the sender gave one (CloudEvents). */
  id?: string;
  /** What a derived id is made of, besides the resource's digest and tag. */
  idParts: Array<string | number | null>;
  at?: Date;
}

/** The envelope of a Harbor artifact push, or undefined for any other Harbor event. */
function harborEnvelope(body: Obj): HarborEnvelope | undefined {
  const type = own(body, 'type');
  if (own(body, 'specversion') !== undefined) {
    if (type !== 'harbor.artifact.pushed') return undefined;
    const id = own(body, 'id');
    const at = time(own(body, 'time'));
    return {
      dataKey: 'data',
      id: id === undefined ? undefined : eventId(id, 'id'),
      idParts: [type, at?.getTime() ?? null],
      at,
    };
  }
  if (type !== 'PUSH_ARTIFACT') return undefined;
  const occurAt = own(body, 'occur_at');
  return {
    dataKey: 'event_data',
    idParts: [type, typeof occurAt === 'number' || typeof occurAt === 'string' ? occurAt : null],
    at: time(occurAt),
  };
}

/** Harbor's PUSH_ARTIFACT, classic (`type`, `occur_at`, `event_data`) or CloudEvents (`specversion`, `type`, `id`, `data`). */
export function parseHarborEvent(body: unknown): PushEvent[] {
  return guarded(() => {
    const envelope = harborEnvelope(object(body, 'body', 'the body is not a JSON object'));
    if (!envelope) return [];
    const { dataKey } = envelope;
    const data = object(own(body as Obj, dataKey), dataKey, 'missing or not an object');
    const name = harborRepository(
      object(own(data, 'repository'), `${dataKey}.repository`, 'missing or not an object'),
      `${dataKey}.repository`,
    );
    const resources = list(own(data, 'resources'), `${dataKey}.resources`);
    return Array.from(resources, (r, i) => {
      const where = `${dataKey}.resources[${i}]`;
      const resource = object(r, where);
      const d = digest(own(resource, 'digest'), `${where}.digest`);
      const t = tag(own(resource, 'tag'), `${where}.tag`);
      const id =
        envelope.id === undefined
          ? stableId(...envelope.idParts, d, t ?? null)
          : resources.length === 1
            ? envelope.id
            : `${envelope.id.slice(0, 240)}:${i}`;
      return withDetails(
        { id, repository: name, digest: d },
        { tag: t, host: hostOfResourceUrl(own(resource, 'resource_url')), at: envelope.at },
      );
    });
  });
}

function genericEvent(e: unknown, where: string): PushEvent {
  const item = object(e, where, 'not an object with repository and digest');
  const ev: PushEvent = {
    id: '',
    repository: repository(own(item, 'repository'), `${where}.repository`),
    digest: digest(own(item, 'digest'), `${where}.digest`),
  };
  withDetails(ev, { tag: tag(own(item, 'tag'), `${where}.tag`) });
  const id = own(item, 'id');
  ev.id =
    id === undefined || id === null ? stableId(ev.repository, ev.tag ?? null, ev.digest) : eventId(id, `${where}.id`);
  return ev;
}

/** `{repository, tag?, digest, id?}` or an array of them; an id is derived from the rest when absent. */
export function parseGenericEvent(body: unknown): PushEvent[] {
  return guarded(() =>
    Array.isArray(body)
      ? Array.from(list(body, 'body'), (e, i) => genericEvent(e, `body[${i}]`))
      : [genericEvent(body, 'body')],
  );
}
