/**
 * `hoist serve`: the control plane. Opens the database (embedded in --data-dir unless --database-url names a
 * PostgreSQL), applies migrations, creates the first admin, serves the API, and shuts down gracefully on SIGTERM.
 * The data directory is locked against a second server on the same embedded database and kept private (0700/0600);
 * the audit chain is checkpointed at start, on a cadence and at shutdown.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { buildServer } from '../../api/server.ts';
import { InvalidInput } from '../../errors.ts';
import { parseDuration } from '../../automation/duration.ts';
import { createServices } from '../../api/services.ts';
import { OutboundPolicy } from '../../net/outbound-policy.ts';
import { smtpMailer } from '../../service/mailer.ts';
import { loadAuditSigningKey } from '../../service/audit-signing-key.ts';
import { loadSecretBox } from '../../service/secret-box.ts';
import { openDatabase } from '../../store/database.ts';
import { migrate } from '../../store/migrate.ts';
import { releaseTestHooks } from '../../service/release-run.ts';
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
  promotionLeaseMs: string;
  promotionRetryFor: string;
  gitopsRetryFor: string;
  shutdownGraceMs: string;
  maxInFlight: string;
  maxEventLoopDelayMs: string;
}

function milliseconds(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidInput(`"${value}" is not a whole number of milliseconds between ${min} and ${max}`, flag);
  return n;
}

/**
 * A new embedded database is created and migrated by a short-lived `hoist db migrate` process, not by the server:
 * PGlite's initdb and the first migrations grow its WebAssembly heap by about 150 MB, which a process never gives
 * back, so a server that did them itself would carry that for its whole life (282 MB idle against 236 MB on later
 * starts, measured by bench:idle). Nothing to do when the data directory holds a database already.
 */
function createEmbeddedDatabase(dataDir: string): void {
  if (existsSync(join(dataDir, 'db', 'PG_VERSION'))) return;
  const entry = process.argv[1];
  if (entry === undefined) return;
  const r = spawnSync(process.execPath, [...process.execArgv, entry, 'db', 'migrate', '--data-dir', dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  // The server's own open and migration below then report what is wrong, as they would have without this step.
  if (r.status !== 0) process.stderr.write(r.stderr);
}

export async function serveCommand(flags: ServeFlags): Promise<void> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidInput(`"${flags.port}" is not a port number`, '--port');
  const dataDir = resolve(flags.dataDir);
  // Keys, the embedded database and checkpoints are for the owner only; one server per embedded database.
  process.umask(0o077);
  if (flags.databaseUrl === undefined) createEmbeddedDatabase(dataDir);
  const lock = flags.databaseUrl === undefined ? lockDataDir(dataDir) : undefined;
  const database = await openDatabase(
    flags.databaseUrl !== undefined ? { url: flags.databaseUrl } : { dataDir: join(dataDir, 'db') },
  );
  const migrated = await migrate(database.db as never);
  // After the embedded database is open: it writes its first files with modes of its own, and older data dirs exist.
  secureDataDir(dataDir);
  const leaseMs = milliseconds(flags.promotionLeaseMs, '--promotion-lease-ms', 300, 600_000);
  const graceMs = milliseconds(flags.shutdownGraceMs, '--shutdown-grace-ms', 0, 3600_000);
  const retryForMs = parseDuration(flags.promotionRetryFor, '--promotion-retry-for') * 1000;
  const gitopsRetryForMs = parseDuration(flags.gitopsRetryFor, '--gitops-retry-for') * 1000;
  const maxInFlight = Number(flags.maxInFlight);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 0)
    throw new InvalidInput(`"${flags.maxInFlight}" is not a whole number of requests (0: no limit)`, '--max-in-flight');
  const maxEventLoopDelayMs = milliseconds(flags.maxEventLoopDelayMs, '--max-event-loop-delay-ms', 0, 600_000);
  const logger = pino({ level: flags.logLevel });
  const mailer =
    flags.smtpUrl !== undefined ? await smtpMailer({ url: flags.smtpUrl, from: flags.smtpFrom }) : undefined;
  // HOIST_OUTBOUND_ALLOW: loopback and private ranges registries and webhooks may reach (e.g. 10.0.0.0/8,::1/128).
  let outbound: OutboundPolicy;
  try {
    outbound = OutboundPolicy.fromList(process.env.HOIST_OUTBOUND_ALLOW);
  } catch (e) {
    throw new InvalidInput((e as Error).message, 'HOIST_OUTBOUND_ALLOW');
  }
  const services = createServices(database, loadSecretBox(join(dataDir, 'secret.key')), {
    promotionLeaseMs: leaseMs,
    promotionRetry: { forMs: retryForMs },
    gitops: { retryForMs: gitopsRetryForMs },
    logger,
    ...(mailer ? { mailer } : {}),
    log: logger.child({ service: 'automation' }),
    audit: {
      key: loadAuditSigningKey(join(dataDir, 'audit-signing.key')),
      file: join(dataDir, 'audit-checkpoint.json'),
      everyEntries: Number(process.env.HOIST_AUDIT_CHECKPOINT_ENTRIES ?? '') || 100,
      everyMs: (Number(process.env.HOIST_AUDIT_CHECKPOINT_SECONDS ?? '') || 60) * 1000,
      log: logger.child({ service: 'audit' }),
    },
    outbound,
    attestations: {
      enabled: process.env.HOIST_ATTESTATIONS !== 'off',
      ...(process.env.HOIST_SIGNING_KEY
        ? { keyFile: process.env.HOIST_SIGNING_KEY }
        : flags.databaseUrl === undefined
          ? { dataDirKeyFile: join(dataDir, 'signing.key') }
          : {}),
      ...(process.env.HOIST_VERIFIER_ID ? { verifierId: process.env.HOIST_VERIFIER_ID } : {}),
    },
    releaseHooks: releaseTestHooks(process.env, logger),
  });
  // The promotion attestations' key: read (HOIST_SIGNING_KEY), made in the data dir, or kept sealed in PostgreSQL.
  await services.signingKeys.ensure();
  const admin = await services.accounts.bootstrapAdmin(process.env.HOIST_ADMIN_PASSWORD);
  const app = await buildServer(services, {
    logger: { level: flags.logLevel },
    trustProxy: flags.trustProxy ?? false,
    backpressure: { maxInFlight, maxEventLoopDelayMs },
  });
  app.log.info({ database: database.backend, location: database.location, migrations: migrated }, 'database ready');
  if (admin.password !== undefined) {
    process.stderr.write(
      `\nCreated user "admin" with the one-time password: ${admin.password}\nSign in and change it; it is not shown again.\n\n`,
    );
  }
  await services.auditCheckpoints.take();

  let stopping = false;
  let pruneTimer: NodeJS.Timeout | undefined = undefined;
  let started: Promise<unknown> = Promise.resolve();
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    app.log.info(
      { signal, graceMs },
      'shutting down: no new jobs; jobs still running after the grace period are released',
    );
    // A signal during start-up waits for the workers to have started, then stops them.
    void started
      .catch(() => undefined)
      .then(() => app.close())
      .then(() => {
        clearInterval(pruneTimer);
        return Promise.all([
          services.runner.stop(graceMs),
          services.gitops.stop(graceMs),
          services.attestor?.stop(graceMs),
          services.dispatcher.stop(),
          services.intake.stop(),
          services.poller.stop(),
          services.automation.ticker.stop(),
        ]);
      })
      .then(() => services.auditSealer.stop())
      .then(() => services.auditCheckpoints.stop())
      .then(() => mailer?.close())
      .then(() => database.close())
      .then(() => lock?.release())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  // Before listening: a SIGTERM sent as soon as the server answers (/readyz) is a graceful stop, not a kill.
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  const address = await app.listen({ port, host: flags.host });
  started = (async () => {
    await services.auditSealer.start();
    services.auditCheckpoints.start();
    await services.runner.start();
    await services.gitops.start();
    await services.attestor?.start();
    await services.dispatcher.start();
    await services.intake.start();
    // Periodic work claimed in the database (named leases): with N replicas each poll and soak tick happens once.
    await services.poller.start();
    await services.automation.ticker.start();
  })();
  await started;
  if (stopping) return;
  // Push events are kept 30 days (what they caused is in artifacts, promotions and the audit log).
  pruneTimer = setInterval(
    () => void services.intake.prune().catch((err: unknown) => app.log.warn({ err }, 'pruning push events failed')),
    3600_000,
  );
  process.stderr.write(`hoist serving on ${address} (API reference: ${address}/api/v1/docs)\n`);
}
