/** `hoist db migrate`: apply the schema migrations and report what was applied (never under a running server). */
import { join, resolve } from 'node:path';
import { openDatabase } from '../../store/database.ts';
import { migrate } from '../../store/migrate.ts';
import { lockDataDir } from '../data-dir.ts';

export async function dbMigrateCommand(flags: { dataDir: string; databaseUrl?: string }): Promise<void> {
  const lock = flags.databaseUrl === undefined ? lockDataDir(resolve(flags.dataDir)) : undefined;
  const database = await openDatabase(
    flags.databaseUrl !== undefined ? { url: flags.databaseUrl } : { dataDir: join(resolve(flags.dataDir), 'db') },
  ).catch((e: unknown) => {
    lock?.release();
    throw e;
  });
  try {
    const r = await migrate(database.db as never);
    process.stdout.write(
      r.applied.length > 0
        ? `applied ${r.applied.join(', ')}; schema at ${r.current}\n`
        : `schema at ${r.current}, nothing to apply\n`,
    );
    for (const note of r.notes) process.stdout.write(`  ${note}\n`);
  } finally {
    await database.close();
    lock?.release();
  }
}
