/**
 * The string fields of requests, one definition per shape, each with a bound: a length limit, or a pattern or an
 * enumeration that allows nothing longer. Route schemas take their fields from here, so a 1 MB name, URL or
 * repository template is a 400 naming the field before a route runs, never a 500 from the database and never
 * stored. test/api/schema-limits.test.ts walks the OpenAPI document and fails on a request string without a bound.
 * Answers are not bounded (the serializer does not check them).
 */
import { Type, type TStringOptions as StringOptions } from '@fastify/type-provider-typebox';
import { DIGEST_PATTERN, SHA256_DIGEST_HINT, SHA256_DIGEST_PATTERN } from '../../oci/digest.ts';
import { TAG_PATTERN } from '../../oci/reference.ts';
import { MAX_EXPRESSION } from '../../policy/condition.ts';
import { NAME_PATTERN } from '../../service/names.ts';

/** The limits, in characters. */
export const LIMITS = {
  /** Projects, registries, environments, policies, rules (NAME_PATTERN allows 63). */
  name: 63,
  /** An application is an image name (a repository path component). */
  application: 128,
  username: 63,
  password: 1024,
  email: 320,
  /** Short free text that names something: a token's name, an audit actor or object type. */
  label: 128,
  /** A key of a label or annotation map. */
  key: 256,
  /** Descriptions, comments, reasons. */
  text: 2000,
  url: 2048,
  /** Repository templates, prefixes and paths (a registry's own limit on a repository name is 255). */
  repository: 255,
  /** HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST. */
  reference: 512,
  /** A CEL condition (the compiler refuses longer ones too). */
  expression: MAX_EXPRESSION,
  /** Ids hoist makes (UUIDs), and the ids others send (idempotency keys, audit object ids). */
  id: 200,
  /** Opaque page cursors. */
  cursor: 400,
  secret: 256,
  /** A registry's password or token: cloud registries hand out long ones (an ECR token, a GCP JSON key). */
  credential: 16384,
  /** Label values, build metadata (branch, commit, builder), IANA time zones. */
  value: 1024,
  dateTime: 64,
  /** A digest as given, before the service checks it (sha512 is 135 characters). */
  digest: 200,
  /** A tag template (%n, strftime placeholders, {tag}, …); the template parser has the same limit. */
  template: 1024,
  /** A Sigstore trusted_root.json (the public-good one is about 20 KB). */
  trustedRoot: 256 * 1024,
} as const;

/** Array and map sizes. */
export const ITEMS = {
  /** Environments named in one call (a request's targets, a decision, a role's limit). */
  environments: 100,
  edges: 1000,
  /** Entries of a label map, values of a sample list. */
  entries: 1000,
} as const;

/** A string field of at most `maxLength` characters; each field passes its own description. */
const bounded =
  (maxLength: number) =>
  (options: StringOptions = {}) =>
    Type.String({ ...options, maxLength });

/** A new name (create): NAME_PATTERN, which bounds it. */
export const Name = Type.String({ pattern: NAME_PATTERN, description: 'lower-case letters, digits and "-"' });
/** The name of something that exists (path parameters, references): unknown names are 404s, not 400s. */
export const NameRef = bounded(LIMITS.name);
export const ApplicationName = bounded(LIMITS.application);
export const Username = bounded(LIMITS.username);
export const Password = bounded(LIMITS.password);
export const Email = bounded(LIMITS.email);
export const Label = bounded(LIMITS.label);
export const Text = bounded(LIMITS.text);
export const Url = bounded(LIMITS.url);
export const Repository = bounded(LIMITS.repository);
export const Reference = bounded(LIMITS.reference);
export const Expression = bounded(LIMITS.expression);
export const Id = bounded(LIMITS.id);
export const Cursor = (options: StringOptions = {}) =>
  Type.String({ description: 'the nextCursor of the previous page', ...options, maxLength: LIMITS.cursor });
export const Secret = bounded(LIMITS.secret);
export const Credential = bounded(LIMITS.credential);
export const Value = bounded(LIMITS.value);
export const TagTemplate = bounded(LIMITS.template);
export const TrustedRootText = bounded(LIMITS.trustedRoot);
export const DateTime = (options: StringOptions = {}) =>
  Type.String({ ...options, format: 'date-time', maxLength: LIMITS.dateTime });

export const Tag = Type.String({
  pattern: TAG_PATTERN,
  description: 'up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
});
/** A digest a person names to promote, pin or quarantine. */
export const Sha256Digest = Type.String({ pattern: SHA256_DIGEST_PATTERN, description: SHA256_DIGEST_HINT });
/** A digest the service checks itself, so that its refusal can say what a digest looks like: bounded only. */
export const DigestText = (options: StringOptions = {}) =>
  Type.String({ description: SHA256_DIGEST_HINT, ...options, maxLength: LIMITS.digest });
/** A digest as registries name content (sha256 or sha512). */
export const Digest = Type.String({ pattern: DIGEST_PATTERN, description: 'sha256:… or sha512:… (lower-case hex)' });

/** A string → string map with bounded keys, values and size (labels, annotations). */
export const StringMap = (options: { keys?: number; values?: number; entries?: number } = {}) =>
  Type.Record(Type.String(), Type.String({ maxLength: options.values ?? LIMITS.value }), {
    propertyNames: { maxLength: options.keys ?? LIMITS.key },
    maxProperties: options.entries ?? ITEMS.entries,
  });

/** A list of environment names. */
export const EnvironmentNames = (options: { minItems?: number; maxItems?: number; description?: string } = {}) =>
  Type.Array(NameRef(), { maxItems: ITEMS.environments, ...options });
