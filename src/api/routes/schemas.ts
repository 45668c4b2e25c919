/** Schemas shared by several route files. */
import { Type, type TSchema } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../components/error.ts';
import { Cursor } from './fields.ts';

export { Name, Sha256Digest, Tag } from './fields.ts';
export const ErrorSchema = ErrorBody;
export const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

/** `?cursor=&limit=&q=` on name-ordered lists. */
export const PageQuerySchema = Type.Object(
  {
    cursor: Type.Optional(Cursor()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    q: Type.Optional(Type.String({ maxLength: 100, description: 'only names containing this' })),
  },
  { additionalProperties: false },
);
export const pageOf = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
