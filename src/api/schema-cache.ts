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
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

type SerializerBuilder = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']
>;
type Serialize = ReturnType<ReturnType<SerializerBuilder>>;
type OnCreate = NonNullable<NonNullable<FastifyServerOptions['ajv']>['onCreate']>;
type Ajv = Parameters<OnCreate>[0];
type Validate = ReturnType<Ajv['compile']>;
type Require = ReturnType<typeof createRequire>;

// Fastify's own dependencies, resolved from where Fastify is (hoist does not depend on them directly): the code
// Ajv and fast-json-stringify generate requires their runtimes, which must be the ones Fastify uses.
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const fromSerializers = createRequire(fromFastify.resolve('@fastify/fast-json-stringify-compiler'));
const fromValidators = createRequire(fromFastify.resolve('@fastify/ajv-compiler'));
const { SerializerSelector } = fromSerializers('./index.js') as { SerializerSelector: () => SerializerBuilder };
const compileSerializers = SerializerSelector();

/**
 * HOIST_SCHEMA_CACHE (a directory; npm test sets it): compiled validators and serializers are also kept there as
 * code, between processes — the standalone code Ajv and fast-json-stringify generate, one file per key — so a process
 * builds its server without generating them again (the test suite starts a few hundred servers, in-process and
 * `hoist serve`). What is read there runs as code: only a directory no one else can write belongs here.
 */
class CodeFiles {
  constructor(readonly dir: string) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch {
      // write() keeps nothing then, read() finds nothing
    }
  }
  file(...key: string[]): string {
    const hash = createHash('sha256');
    for (const part of key) hash.update(part).update('\0');
    return join(this.dir, `${hash.digest('hex').slice(0, 32)}.cjs`);
  }
  /** The module's exports, or undefined when there is no such file. */
  read<T>(file: string, require: Require): T | undefined {
    let code: string;
    try {
      code = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    const module = { exports: undefined as T | undefined };
    try {
      // Code the same compiler generated (write below), with its runtime.
      new Function('module', 'exports', 'require', code)(module, {}, require);
    } catch {
      return undefined; // not what write() left (a compiler's new version that fails on it): compiled anew
    }
    return module.exports;
  }
  /** Keeps the code for the next process; a directory that cannot take it only means compiling again next time. */
  write(file: string, code: string): void {
    const partial = `${file}.${process.pid}`;
    try {
      writeFileSync(partial, code, { mode: 0o600 });
      renameSync(partial, file);
    } catch {
      // nothing kept
    }
  }
}
const files = process.env.HOIST_SCHEMA_CACHE ? new CodeFiles(process.env.HOIST_SCHEMA_CACHE) : undefined;

const serializers = new Map<string, Serialize>();
const fjs = fromSerializers('fast-json-stringify') as (schema: unknown, o: object) => string;
const fjsVersion = (fromSerializers('fast-json-stringify/package.json') as { version: string }).version;

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
      serialize =
        (files && keptSerializer(files, key, route.schema, externalSchemas, serializerOpts)) ?? fastifys(route);
      serializers.set(key, serialize);
    }
    return serialize;
  };
};

/** The serializer kept as code for `key`, written first when there is none; undefined for a schema with an `$id`. */
function keptSerializer(
  files: CodeFiles,
  key: string,
  schema: unknown,
  externalSchemas: unknown,
  serializerOpts: unknown,
): Serialize | undefined {
  const file = files.file('fast-json-stringify', fjsVersion, key);
  const kept = files.read<Serialize>(file, fromSerializers);
  if (kept !== undefined || (schema as { $id?: unknown }).$id !== undefined) return kept;
  // As Fastify's compiler does (responseSchemaCompiler), in fast-json-stringify's standalone mode.
  files.write(
    file,
    fjs(schema, { ...(serializerOpts as object | undefined), schema: externalSchemas, mode: 'standalone' }),
  );
  return files.read<Serialize>(file, fromSerializers);
}

const validators = new Map<string, Validate>();
const CodeText = (fromValidators('ajv/dist/compile/codegen/code') as { _Code: new (code: string) => unknown })._Code;
const standaloneValidator = fromValidators('ajv/dist/standalone').default as (ajv: Ajv, v: Validate) => string;
const ajvVersion = (fromValidators('ajv/package.json') as { version: string }).version;
// The Ajv options that shape the code it generates; the rest only change how it compiles.
const OPTIONS_IN_CODE = [
  'coerceTypes',
  'useDefaults',
  'removeAdditional',
  'allErrors',
  'strict',
  'strictTypes',
  'strictTuples',
  'strictRequired',
  'validateFormats',
  'ownProperties',
  'unicodeRegExp',
  'int32range',
  'discriminator',
  'unevaluated',
  'dynamicRef',
  'messages',
  'verbose',
  '$data',
  'passContext',
];

/** Fastify's `ajv.onCreate`: its Ajv's `compile` answers the validator compiled before for the same schema. */
export const cacheValidators: OnCreate = (ajv) => {
  const compile = ajv.compile.bind(ajv);
  const opts = ajv.opts as unknown as Record<string, unknown>;
  const options = JSON.stringify(OPTIONS_IN_CODE.map((name) => opts[name] ?? null));
  if (files) {
    const code = ajv.opts.code as { source?: boolean; formats?: unknown };
    // Ajv keeps a validator's code only when asked before it compiles.
    code.source = true;
    // How the code names the formats: ajv-formats says it with its own copy of Ajv's code builder, which this Ajv
    // does not recognise as code (it would write the object out as data); said again with this Ajv's.
    if (code.formats !== undefined) code.formats = new CodeText(String(code.formats));
  }
  ajv.compile = ((schema: unknown, meta?: boolean) => {
    if (meta !== undefined || typeof schema !== 'object' || schema === null) return compile(schema as never, meta);
    const key = JSON.stringify(schema);
    let validate = validators.get(key);
    if (validate === undefined) {
      const file = files?.file('ajv', ajvVersion, options, key);
      validate = file === undefined ? undefined : files?.read<Validate>(file, fromValidators);
      if (validate === undefined) {
        validate = compile(schema as never);
        if (file !== undefined) files?.write(file, standaloneValidator(ajv, validate));
      }
      validators.set(key, validate);
    }
    return validate;
  }) as Ajv['compile'];
};
