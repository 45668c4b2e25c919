/**
 * An in-process hoist server for the benchmarks: the embedded database (in memory) or a throw-away PostgreSQL,
 * migrated, the first admin and an API token, listening on loopback, with its promotion runner started. The bench
 * registries listen on loopback too: the outbound policy allows it, as an admin would with HOIST_OUTBOUND_ALLOW.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { App, Services } from '../src/api/context.ts';
import { buildServer } from '../src/api/server.ts';
import { createServices } from '../src/api/services.ts';
import { OutboundPolicy } from '../src/net/outbound-policy.ts';
import { SecretBox } from '../src/service/secret-box.ts';
import { openDatabase, type Database } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { startPostgres } from '../test/harness/postgres.ts';

export type BenchBackend = 'embedded' | 'postgres';

export interface BenchServer {
  url: string;
  /** An API token of the admin. */
  token: string;
  app: App;
  services: Services;
  database: Database;
  close(): Promise<void>;
}

/** `postgres` when the command line says so (`npm run bench:… -- --database postgres`), else `embedded`. */
export const benchBackend = (): BenchBackend => (process.argv.includes('postgres') ? 'postgres' : 'embedded');

export async function startBenchServer(backend: BenchBackend): Promise<BenchServer> {
  const postgres = backend === 'postgres' ? await startPostgres() : undefined;
  const database = await openDatabase(postgres ? { url: await postgres.createDatabase() } : {});
  await migrate(database.db as never);
  const services = createServices(database, new SecretBox(randomBytes(32)), {
    outbound: OutboundPolicy.fromList('127.0.0.0/8,::1/128'),
    // As `hoist serve`: HOIST_ATTESTATIONS=off promotes without attaching the signed attestation (for comparison).
    attestations: { enabled: process.env.HOIST_ATTESTATIONS !== 'off' },
  });
  await services.accounts.bootstrapAdmin('bench-password-1');
  const app = await buildServer(services);
  await app.listen({ port: 0, host: '127.0.0.1' });
  await services.runner.start();
  const admin = await services.accounts.login('admin', 'bench-password-1', '127.0.0.1');
  const token = (await services.accounts.createToken({ userId: admin.id, username: 'admin' }, 'bench')).token;
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    token,
    app,
    services,
    database,
    async close() {
      await services.runner.stop();
      await app.close();
      await database.close();
      await postgres?.stop();
    },
  };
}
