/**
 * Named schemas: each resource's shape is registered once (`app.addSchema`, so the serializer and the validator
 * share it) and referenced by `$ref` everywhere else, so the OpenAPI document lists it under `components.schemas`
 * and the generated client gets one type per resource instead of one per route.
 */
import { Type, type Static, type TSchema, type TUnsafe } from '@fastify/type-provider-typebox';

const registered = new Map<string, TSchema>();

/**
 * Declares the component `id` with this schema and answers a `$ref` to it, typed as the schema. Declared at module
 * load; a second declaration of the same id is a programming error.
 */
export function component<T extends TSchema>(id: string, schema: T): TUnsafe<Static<T>> {
  if (registered.has(id)) throw new Error(`component ${id} is declared twice`);
  registered.set(id, { ...schema, $id: id });
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}

/** Every declared component, for `app.addSchema` (before any route that refers to them). */
export function components(): TSchema[] {
  return [...registered.values()];
}
