/**
 * The control-plane commands, thin over the API client: registries, projects, applications, members, environments,
 * pipelines, users, tokens and the audit log. Each prints with --output table|json|yaml.
 */
import { readFileSync } from 'node:fs';
import { parseDuration } from '../../automation/duration.ts';
import { InvalidInput } from '../../errors.ts';
import { parseCheckpoint } from '../../service/audit-checkpoints.ts';
import { checkEnvironment, isEnvironmentKind, type EnvironmentInput } from '../../service/environment-shape.ts';
import type { ProjectRole } from '../../service/identity.ts';
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';
import { readSecret } from '../read-secret.ts';

type Flags = Record<string, unknown> & { output?: string };
const out = (flags: Flags) => outputFormat(flags.output);

export const registry = {
  list: async (f: Flags) =>
    print(await client().registries.list(), out(f), ['name', 'url', 'insecure', 'username', 'hasSecret']),
  show: async (name: string, f: Flags) => print(await client().registries.get(name), out(f)),
  set: async (
    name: string,
    f: Flags & { url: string; insecure?: boolean; username?: string; passwordStdin?: boolean },
  ) => {
    const password =
      f.username !== undefined
        ? await readSecret(`password or token for ${f.username}: `, f.passwordStdin ?? false)
        : undefined;
    const input = {
      name,
      url: f.url,
      ...(f.insecure ? { insecure: true } : {}),
      ...(f.username !== undefined ? { username: f.username, password } : {}),
    };
    await print(await client().registries.put(input), out(f));
  },
  remove: async (name: string) => client().registries.remove(name),
  test: async (name: string, f: Flags) => print(await client().registries.test(name), out(f)),
};

export const project = {
  list: async (f: Flags) => print(await client().projects.list(), out(f), ['name', 'description']),
  show: async (name: string, f: Flags) => {
    const c = client();
    const [p, applications, environments, pipeline, members] = await Promise.all([
      c.projects.get(name),
      c.projects.applications(name),
      c.environments.list(name),
      c.environments.pipeline(name),
      c.projects.members(name),
    ]);
    await print(
      {
        ...p,
        applications,
        environments: environments.map((e) => e.name),
        pipeline: pipeline.map((e) => `${e.from}->${e.to}`),
        members,
      },
      out(f),
    );
  },
  create: async (name: string, f: Flags & { description?: string }) =>
    print(await client().projects.create(name, f.description), out(f)),
  remove: async (name: string) => client().projects.remove(name),
  grant: async (name: string, username: string, role: string, f: Flags & { env?: string[] }) => {
    await client().projects.grant(name, {
      username,
      role: role as ProjectRole,
      environments: f.env && f.env.length > 0 ? f.env : null,
    });
    await print(await client().projects.members(name), out(f), ['username', 'role', 'environments']);
  },
  members: async (name: string, f: Flags) =>
    print(await client().projects.members(name), out(f), ['username', 'role', 'environments']),
  namespaces: async (name: string, f: Flags) =>
    print(await client().projects.namespaces(name), out(f), ['registry', 'prefix', 'createdBy']),
  grantNamespace: async (name: string, f: Flags & { registry: string; prefix: string }) =>
    print(await client().projects.grantNamespace(name, f.registry, f.prefix), out(f), ['registry', 'prefix']),
  revokeNamespace: async (name: string, f: { registry: string; prefix: string }) =>
    client().projects.revokeNamespace(name, f.registry, f.prefix),
};

export const app = {
  list: async (projectName: string, f: Flags) =>
    print(
      (await client().projects.applications(projectName)).map((name) => ({ name })),
      out(f),
    ),
  add: async (projectName: string, name: string): Promise<void> => {
    await client().projects.addApplication(projectName, name);
  },
  remove: async (projectName: string, name: string) => client().projects.removeApplication(projectName, name),
};

export const env = {
  list: async (projectName: string, f: Flags) =>
    print(await client().environments.list(projectName), out(f), [
      'name',
      'position',
      'kind',
      'registry',
      'repository',
      'tag',
      'protected',
      'soakSeconds',
    ]),
  set: async (
    projectName: string,
    name: string,
    f: Flags & {
      kind: string;
      registry: string;
      repository: string;
      tag?: string;
      position?: string;
      protected?: boolean;
      immutableTags?: boolean;
      allowTagMove?: boolean;
      soak?: string;
    },
  ) => {
    if (!isEnvironmentKind(f.kind)) throw new InvalidInput(`"${f.kind}" is not repository or tag`, '--kind');
    const input: EnvironmentInput = { name, kind: f.kind, registry: f.registry, repository: f.repository };
    if (f.tag !== undefined) input.tag = f.tag;
    if (f.position !== undefined) input.position = Number(f.position);
    if (f.protected !== undefined) input.protected = f.protected;
    if (f.immutableTags !== undefined) input.immutableTags = f.immutableTags;
    if (f.allowTagMove !== undefined) input.allowTagMove = f.allowTagMove;
    if (f.soak !== undefined) input.soakSeconds = parseDuration(f.soak, '--soak');
    checkEnvironment(input);
    await print(await client().environments.put(projectName, input), out(f));
  },
  remove: async (projectName: string, name: string) => client().environments.remove(projectName, name),
};

export const pipeline = {
  show: async (projectName: string, f: Flags) =>
    print(await client().environments.pipeline(projectName), out(f), ['from', 'to']),
  set: async (projectName: string, edges: string[], f: Flags) => {
    const parsed = edges.map((e, i) => {
      const m = /^([a-z0-9-]+)(?::|->)([a-z0-9-]+)$/.exec(e);
      if (!m) throw new InvalidInput(`"${e}" is not FROM:TO (e.g. dev:staging)`, `edge ${i + 1}`);
      return { from: m[1] as string, to: m[2] as string };
    });
    await print(await client().environments.setPipeline(projectName, parsed), out(f), ['from', 'to']);
  },
};

export const user = {
  list: async (f: Flags) => print(await client().users.list(), out(f)),
  create: async (username: string, f: Flags & { admin?: boolean; passwordStdin?: boolean; email?: string }) => {
    const password = await readSecret(`password for ${username}: `, f.passwordStdin ?? false);
    await print(await client().users.create(username, password, f.admin ?? false, f.email), out(f));
  },
  set: async (username: string, f: Flags & { email?: string }) => {
    if (f.email === undefined)
      throw new InvalidInput('say what to change (--email ADDRESS, or --email "" to clear it)', 'user set');
    await print(await client().users.setEmail(username, f.email === '' ? null : f.email), out(f));
  },
};

export const webhook = {
  list: async (f: Flags & { project: string }) =>
    print(await client().webhooks.list(f.project), out(f), ['id', 'url', 'events', 'createdBy', 'createdAt']),
  add: async (url: string, f: Flags & { project: string; event?: string[]; secretStdin?: boolean }) => {
    const secret = f.secretStdin ? await readSecret('webhook secret: ', true) : undefined;
    const w = await client().webhooks.create(f.project, {
      url,
      ...(secret !== undefined ? { secret } : {}),
      ...(f.event && f.event.length > 0 ? { events: f.event } : {}),
    });
    if (w.secret !== undefined) process.stderr.write('the signing secret is shown once; give it to the receiver now\n');
    await print(w, out(f));
  },
  remove: async (id: string, f: { project: string }) => client().webhooks.remove(f.project, id),
  deliveries: async (id: string, f: Flags & { project: string }) =>
    print(await client().webhooks.deliveries(f.project, id), out(f), [
      'id',
      'event',
      'state',
      'attempts',
      'lastStatus',
      'lastError',
      'createdAt',
      'deliveredAt',
    ]),
};

export const token = {
  list: async (f: Flags) =>
    print(await client().tokens.list(), out(f), ['id', 'name', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt']),
  create: async (name: string, f: Flags & { expiresInDays?: string }) => {
    const t = await client().tokens.create(name, f.expiresInDays === undefined ? undefined : Number(f.expiresInDays));
    process.stderr.write('the token is shown once; store it now\n');
    await print(t, out(f));
  },
  revoke: async (id: string) => client().tokens.revoke(id),
};

export const audit = {
  list: async (
    f: Flags & { actor?: string; objectType?: string; objectId?: string; since?: string; limit?: string },
  ) => {
    const q: Record<string, string> = {};
    for (const k of ['actor', 'objectType', 'objectId', 'since', 'limit'] as const)
      if (f[k] !== undefined) q[k] = String(f[k]);
    await print((await client().audit.list(q)).items, out(f), [
      'seq',
      'at',
      'actor',
      'action',
      'objectType',
      'objectId',
      'requestId',
    ]);
  },
  verify: async (f: Flags & { checkpoint?: string }) => {
    let given;
    if (f.checkpoint !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(f.checkpoint, 'utf8'));
      } catch (e) {
        throw new InvalidInput(
          `cannot read a checkpoint from ${f.checkpoint}: ${(e as Error).message}`,
          '--checkpoint',
        );
      }
      // Accept the file as `hoist audit checkpoint` prints it, or the bare checkpoint.
      given = parseCheckpoint((parsed as { checkpoint?: unknown } | null)?.checkpoint ?? parsed);
      if (given === undefined) throw new InvalidInput(`${f.checkpoint} holds no audit checkpoint`, '--checkpoint');
    }
    const v = await client().audit.verify(given);
    if (outputFormat(f.output) !== 'table') await print(v, out(f));
    else if (!v.ok) process.stdout.write(`AUDIT CHAIN BROKEN at row ${v.seq} (${v.problem}): ${v.message}\n`);
    else
      process.stdout.write(
        `audit chain intact: ${v.rows} rows, head ${v.head}\n` +
          (v.checkpoint
            ? `it contains row ${v.checkpoint.seq} as the ${v.checkpoint.source} checkpoint signed at ${v.checkpoint.at} names it\n`
            : 'no checkpoint to check it against: deleted newest rows or a rebuilt chain would not show\n'),
      );
    if (!v.ok) process.exitCode = 1;
  },
  checkpoint: async () => {
    process.stdout.write(`${JSON.stringify(await client().audit.checkpoint(), null, 2)}\n`);
  },
};

export const artifact = {
  register: async (
    reference: string,
    f: Flags & {
      project: string;
      app: string;
      branch?: string;
      commit?: string;
      builder?: string;
      ciUrl?: string;
      label?: string[];
    },
  ) => {
    const labels: Record<string, string> = {};
    for (const l of f.label ?? []) {
      const eq = l.indexOf('=');
      if (eq <= 0) throw new InvalidInput(`"${l}" is not KEY=VALUE`, '--label');
      labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
    const build = {
      ...(f.branch ? { branch: f.branch } : {}),
      ...(f.commit ? { commit: f.commit } : {}),
      ...(f.builder ? { builder: f.builder } : {}),
      ...(f.ciUrl ? { ciUrl: f.ciUrl } : {}),
      ...(f.label ? { labels } : {}),
    };
    await print(await client().artifacts.register(f.project, f.app, { reference, ...build }), out(f));
  },
  list: async (f: Flags & { project: string; app: string; env?: string }) =>
    print(
      (await client().artifacts.list(f.project, f.app, f.env)).map((a) => ({
        ...a,
        environments: a.environments.map((e) => e.environment),
      })),
      out(f),
      ['digest', 'tags', 'repository', 'platforms', 'environments', 'registeredAt'],
    ),
  /** The artifact and its journey: every promotion of its digest, oldest first. */
  show: async (digest: string, f: Flags & { project: string; app: string }) => {
    const c = client();
    const [artifact, history] = await Promise.all([
      c.artifacts.get(f.project, f.app, digest),
      c.promotions.history(f.project, { app: f.app, digest }),
    ]);
    const journey = history.reverse().map((h) => ({
      at: h.at,
      from: h.from,
      to: h.to,
      tag: h.tag,
      state: h.state,
      requestedBy: h.requestedBy,
      approvedBy: h.approvals.filter((a) => a.decision === 'approve').map((a) => a.username),
      policy: h.policy,
      comment: h.comment,
    }));
    await print({ ...artifact, journey }, out(f));
    // A table cell cannot show the checks; list each signature and attestation with its verdict under it.
    if (out(f) === 'table' && artifact.trust) {
      process.stdout.write(`\nsignatures and attestations (checked ${artifact.trust.checkedAt}):\n`);
      await print(artifact.trust.checks, 'table', [
        'type',
        'predicateType',
        'signer',
        'verified',
        'reason',
        'manifest',
      ]);
    }
    // hoist's own signed promotion attestations, read from each environment's registry now and checked with the
    // server's keys: what a deploy gate with --require-attestation would see.
    if (out(f) === 'table') {
      const reached = [...new Set(journey.filter((j) => j.state === 'PROMOTED').map((j) => j.to))];
      const checks = await Promise.all(reached.map((env) => c.attestation.check(f.project, env, digest)));
      if (checks.length > 0) {
        process.stdout.write('\npromotion attestations (read from the registry now):\n');
        await print(
          checks.map((a, i) => ({
            environment: reached[i],
            // attached right after PROMOTED by its own job: attached, pending or failed (the reason says why)
            state: artifact.attestations?.find((x) => x.environment === reached[i])?.state ?? 'none',
            verified: a.verified,
            reason: a.reason,
            approvedBy: a.chain.flatMap((h) => h.approvedBy),
            attestation: a.chain.at(-1)?.attestation ?? null,
          })),
          'table',
          ['environment', 'state', 'verified', 'reason', 'approvedBy', 'attestation'],
        );
      }
    }
  },
};
