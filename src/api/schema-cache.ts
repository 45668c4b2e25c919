/**
 * Fastify's compiled schemas, once per process for a given schema: the response serializers (`buildSerializer`, handed
 * to Fastify as `schemaController.compilersFactory.buildSerializer`) and the request validators (`cacheValidators`,
 * Fastify's `ajv.onCreate`). For a schema identical to one compiled before (the same JSON; for a serializer also the
 * same status, content type, route, shared schemas and serializer options) they answer the function compiled then;
 * otherwise Fastify's own compilers compile it, as they would have.
 *
 * Why: compiling the ~300 routes' schemas (Ajv and fast-json-stringify generate and evaluate code) costs most of a
 * second of CPU per server. A production process builds one server, and this changes nothing for it; the test suite
 * builds a server for almost every file and backend, over a hundred in all, each the same. A compiled validator or
 * serializer is a pure function of its schema and its compiler's options, so one serves every server that asks for
 * the same. The options are those of `buildServer`, the same for every server, so they are no part of the key.
 * Validators are cached inside Fastify's Ajv (not by a validator compiler of our own, which would change how Fastify
 * treats header schemas).
 */
import type { FastifyServerOptions } from 'fastify';
import { createRequire } from 'node:module';

type SerializerBuilder = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']
>;
type Serialize = ReturnType<ReturnType<SerializerBuilder>>;
type OnCreate = NonNullable<NonNullable<FastifyServerOptions['ajv']>['onCreate']>;
type Ajv = Parameters<OnCreate>[0];

// Fastify's own dependency, resolved from where Fastify is (hoist does not depend on it directly).
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const { SerializerSelector } = fromFastify('@fastify/fast-json-stringify-compiler') as {
  SerializerSelector: () => SerializerBuilder;
};
const compileSerializers = SerializerSelector();

const serializers = new Map<string, Serialize>();

export const buildSerializer: SerializerBuilder = (externalSchemas, serializerOpts) => {
  const fastifys = compileSerializers(externalSchemas, serializerOpts);
  const shared = JSON.stringify([externalSchemas, serializerOpts ?? null]);
  return (route) => {
    const key = JSON.stringify([
      shared,
      route.method,
      route.url,
      route.httpStatus,
      (route as { contentType?: string }).contentType ?? null,
      route.schema,
    ]);
    let serialize = serializers.get(key);
    if (serialize === undefined) {
      serialize = fastifys(route);
      serializers.set(key, serialize);
    }
    return serialize;
  };
};

const validators = new Map<string, ReturnType<Ajv['compile']>>();

/** Fastify's `ajv.onCreate`: its Ajv's `compile` answers the validator compiled before for the same schema. */
export const cacheValidators: OnCreate = (ajv) => {
  const compile = ajv.compile.bind(ajv);
  ajv.compile = ((schema: unknown, meta?: boolean) => {
    if (meta !== undefined || typeof schema !== 'object' || schema === null) return compile(schema as never, meta);
    const key = JSON.stringify(schema);
    let validate = validators.get(key);
    if (validate === undefined) {
      validate = compile(schema as never);
      validators.set(key, validate);
    }
    return validate;
  }) as Ajv['compile'];
};
