/**
 * `hoist serve`: the control plane. Opens the database (embedded in --data-dir unless --database-url names a
 * PostgreSQL), applies migrations, creates the first admin, serves the API, and shuts down gracefully on SIGTERM.
 * The data directory is locked against a second server on the same embedded database and kept private (0700/0600);
 * the audit chain is checkpointed at start, on a cadence and at shutdown.
 */
import { join, resolve } from 'node:path';
import { buildServer } from '../../api/server.ts';
import { InvalidInput } from '../../errors.ts';
import { createServices } from '../../api/services.ts';
import type { CheckpointLog } from '../../service/audit-checkpoints.ts';
import type { AutomationLog } from '../../service/automation.ts';
import { OutboundPolicy } from '../../net/outbound-policy.ts';
import { smtpMailer } from '../../service/mailer.ts';
import { loadAuditSigningKey } from '../../service/audit-signing-key.ts';
import { loadSecretBox } from '../../service/secret-box.ts';
import { openDatabase } from '../../store/database.ts';
import { migrate } from '../../store/migrate.ts';
import { lockDataDir, secureDataDir } from '../data-dir.ts';

export interface ServeFlags {
  port: string;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  logLevel: string;
  smtpUrl?: string;
  smtpFrom: string;
  trustProxy?: boolean;
}

export async function serveCommand(flags: ServeFlags): Promise<void> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidInput(`"${flags.port}" is not a port number`, '--port');
  const dataDir = resolve(flags.dataDir);
  // Keys, the embedded database and checkpoints are for the owner only; one server per embedded database.
  process.umask(0o077);
  const lock = flags.databaseUrl === undefined ? lockDataDir(dataDir) : undefined;
  const database = await openDatabase(
    flags.databaseUrl !== undefined ? { url: flags.databaseUrl } : { dataDir: join(dataDir, 'db') },
  );
  const migrated = await migrate(database.db as never);
  // After the embedded database is open: it writes its first files with modes of its own, and older data dirs exist.
  secureDataDir(dataDir);
  // HOIST_PROMOTION_LEASE_MS: how long a claimed promotion stays with a worker that stopped renewing it (a dead server).
  const leaseMs = Number(process.env.HOIST_PROMOTION_LEASE_MS ?? '') || undefined;
  const mailer =
    flags.smtpUrl !== undefined ? await smtpMailer({ url: flags.smtpUrl, from: flags.smtpFrom }) : undefined;
  const late: { log?: AutomationLog & CheckpointLog } = {};
  // HOIST_OUTBOUND_ALLOW: loopback and private ranges registries and webhooks may reach (e.g. 10.0.0.0/8,::1/128).
  let outbound: OutboundPolicy;
  try {
    outbound = OutboundPolicy.fromList(process.env.HOIST_OUTBOUND_ALLOW);
  } catch (e) {
    throw new InvalidInput((e as Error).message, 'HOIST_OUTBOUND_ALLOW');
  }
  const services = createServices(database, loadSecretBox(join(dataDir, 'secret.key')), {
    ...(leaseMs !== undefined ? { promotionLeaseMs: leaseMs } : {}),
    ...(mailer ? { mailer } : {}),
    log: { warn: (o, m) => late.log?.warn(o, m) },
    audit: {
      key: loadAuditSigningKey(join(dataDir, 'audit-signing.key')),
      file: join(dataDir, 'audit-checkpoint.json'),
      everyEntries: Number(process.env.HOIST_AUDIT_CHECKPOINT_ENTRIES ?? '') || 100,
      everyMs: (Number(process.env.HOIST_AUDIT_CHECKPOINT_SECONDS ?? '') || 60) * 1000,
      log: { info: (o, m) => late.log?.info(o, m), error: (o, m) => late.log?.error(o, m) },
    },
    outbound,
  });
  const admin = await services.accounts.bootstrapAdmin(process.env.HOIST_ADMIN_PASSWORD);
  const app = await buildServer(services, { logger: { level: flags.logLevel }, trustProxy: flags.trustProxy ?? false });
  late.log = app.log;
  app.log.info({ database: database.backend, location: database.location, migrations: migrated }, 'database ready');
  if (admin.password !== undefined) {
    process.stderr.write(
      `\nCreated user "admin" with the one-time password: ${admin.password}\nSign in and change it; it is not shown again.\n\n`,
    );
  }
  await services.auditCheckpoints.take();
  const address = await app.listen({ port, host: flags.host });
  services.auditCheckpoints.start();
  services.runner.start();
  services.dispatcher.start();
  services.intake.start();
  services.poller.start();
  // Soak times end while nothing happens: look each second for artifacts that have soaked since the last look.
  const soakTimer = setInterval(
    () => void services.automation.tick().catch((err: unknown) => app.log.warn({ err }, 'automation tick failed')),
    1000,
  );
  // Push events are kept 30 days (what they caused is in artifacts, promotions and the audit log).
  const pruneTimer = setInterval(
    () => void services.intake.prune().catch((err: unknown) => app.log.warn({ err }, 'pruning push events failed')),
    3600_000,
  );
  process.stderr.write(`hoist serving on ${address} (API reference: ${address}/api/v1/docs)\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing requests in flight');
    void app
      .close()
      .then(() => {
        clearInterval(soakTimer);
        clearInterval(pruneTimer);
        services.poller.stop();
        return Promise.all([services.runner.stop(), services.dispatcher.stop(), services.intake.stop()]);
      })
      .then(() => services.auditCheckpoints.stop())
      .then(() => mailer?.close())
      .then(() => database.close())
      .then(() => lock?.release())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
