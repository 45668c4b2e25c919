/** Projects, as stored: looked up by name. */
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/** The id of the project named so, if any. */
export async function projectIdByName(db: Kysely<Schema>, name: string): Promise<string | undefined> {
  return (await db.selectFrom('projects').select('id').where('name', '=', name).executeTakeFirst())?.id;
}
