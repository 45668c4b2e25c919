/**
 * Named schemas: each resource's shape is declared once and used inline by the routes (the validator and the
 * serializer see plain schemas), and the OpenAPI document lists it under `components.schemas` by name with a `$ref`
 * wherever it appears, so the generated client gets one type per resource instead of one per route.
 *
 * Why inline at run time: registering the components as shared schemas (`app.addSchema` + `$ref`) made fast-json-
 * stringify load every shared schema into a validator for each route's serializer; building the server took 2.7×
 * as long (4.3 s → 11.5 s on a busy machine), enough for `hoist serve` to miss its start-up deadlines.
 */
import type { TSchema } from '@fastify/type-provider-typebox';

/** The mark a component carries in the route schemas (a `$comment`, which validators and serializers ignore). */
const MARK = 'hoist-component:';
/** Declared ids, in declaration order (the document lists them in this order). */
const declared: string[] = [];

/** Declares the component `id` with this schema; a second declaration of the same id is a programming error. */
export function component<T extends TSchema>(id: string, schema: T): T {
  if (declared.includes(id)) throw new Error(`component ${id} is declared twice`);
  declared.push(id);
  return { ...schema, $comment: `${MARK}${id}` };
}

type Json = unknown;

/**
 * The OpenAPI document with every marked schema replaced by a `$ref` to `#/components/schemas/<id>` and listed
 * there once (components inside components become `$ref`s as well).
 */
export function hoistComponents<D extends { components?: { schemas?: Record<string, Json> } }>(doc: D): D {
  const found = new Map<string, Json>();
  const walk = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, Json>);
    const mark = (node as { $comment?: unknown }).$comment;
    const body = Object.fromEntries(
      entries.filter(([k]) => k !== '$comment' || !isMark(mark)).map(([k, v]) => [k, walk(v)]),
    );
    if (!isMark(mark)) return body;
    const id = mark.slice(MARK.length);
    if (!found.has(id)) found.set(id, body);
    return { $ref: `#/components/schemas/${id}` };
  };
  const walked = walk(doc) as D;
  const schemas = Object.fromEntries(declared.filter((id) => found.has(id)).map((id) => [id, found.get(id)]));
  return { ...walked, components: { ...walked.components, schemas: { ...walked.components?.schemas, ...schemas } } };
}

const isMark = (v: unknown): v is string => typeof v === 'string' && v.startsWith(MARK);
