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
import { startPostgres, type TestPostgres } from '../test/harness/postgres.ts';
import { withCounter, type SqlCounter } from './sql-counter.ts';

export type BenchBackend = 'embedded' | 'postgres';

export interface BenchServer {
  url: string;
  /** An API token of the admin. */
  token: string;
  app: App;
  services: Services;
  database: Database;
  /** The database without the statement counter: the bench's own queries are not counted. */
  uncounted: Database['db'];
  close(): Promise<void>;
}

/** `postgres` when the command line says so (`npm run bench:… -- --database postgres`), else `embedded`. */
export const benchBackend = (): BenchBackend => (process.argv.includes('postgres') ? 'postgres' : 'embedded');

export interface BenchServerOptions {
  /** Counts the SQL statements the server sends (bench/sql-counter.ts). */
  counter?: SqlCounter;
  /** Also works push events (the intake queue), for the event benchmarks. */
  intake?: boolean;
}

export async function startBenchServer(backend: BenchBackend, o: BenchServerOptions = {}): Promise<BenchServer> {
  const postgres: TestPostgres | undefined = backend === 'postgres' ? await startPostgres() : undefined;
  const opened = await openDatabase(postgres ? { url: await postgres.createDatabase() } : {});
  await migrate(opened.db as never);
  const database = o.counter ? withCounter(opened, o.counter) : opened;
  const services = createServices(database, new SecretBox(randomBytes(32)), {
    outbound: OutboundPolicy.fromList('127.0.0.0/8,::1/128'),
    // As `hoist serve`: HOIST_ATTESTATIONS=off promotes without attaching the signed attestation (for comparison).
    attestations: { enabled: process.env.HOIST_ATTESTATIONS !== 'off' },
  });
  await services.accounts.bootstrapAdmin('bench-password-1');
  const app = await buildServer(services);
  await app.listen({ port: 0, host: '127.0.0.1' });
  // As `hoist serve`: the audit chain is sealed shortly after commit (its cost counted with the promotions').
  await services.auditSealer.start();
  await services.runner.start();
  await services.attestor?.start();
  if (o.intake) await services.intake.start();
  const admin = await services.accounts.login('admin', 'bench-password-1', '127.0.0.1');
  const token = (await services.accounts.createToken({ userId: admin.id, username: 'admin' }, 'bench')).token;
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    token,
    app,
    services,
    database,
    uncounted: opened.db,
    async close() {
      if (o.intake) await services.intake.stop();
      await services.runner.stop();
      await services.attestor?.stop();
      await services.auditSealer.stop();
      await app.close();
      await database.close();
      await postgres?.stop();
    },
  };
}
