/** Schemas shared by several route files. */
import { Type, type TSchema } from '@fastify/type-provider-typebox';
import { SHA256_DIGEST_HINT, SHA256_DIGEST_PATTERN } from '../../oci/digest.ts';
import { TAG_PATTERN } from '../../oci/reference.ts';
import { NAME_PATTERN } from '../../service/names.ts';
import { ErrorBody } from '../components/error.ts';

export const ErrorSchema = ErrorBody;
export const Name = Type.String({ pattern: NAME_PATTERN, description: 'lower-case letters, digits and "-"' });
export const Tag = Type.String({
  pattern: TAG_PATTERN,
  description: 'up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
});
export const Sha256Digest = Type.String({ pattern: SHA256_DIGEST_PATTERN, description: SHA256_DIGEST_HINT });
export const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

/** `?cursor=&limit=&q=` on name-ordered lists. */
export const PageQuerySchema = Type.Object(
  {
    cursor: Type.Optional(Type.String({ description: 'the nextCursor of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    q: Type.Optional(Type.String({ maxLength: 100, description: 'only names containing this' })),
  },
  { additionalProperties: false },
);
export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
