/**
 * The `hoist` command line. Each command's code is imported only when that command runs, so start-up stays fast
 * (a copy that finds nothing to do is dominated by start-up). Errors become exit codes in exit-codes.ts.
 */
import { Option, type Command } from 'commander';
import { collect } from './registry-flags.ts';
import { addCopyCommand } from './copy-command.ts';
import { insecureOption, newProgram, runProgram } from './program.ts';
import { InvalidInput } from '../errors.ts';
import { BACKPRESSURE_DEFAULTS } from '../api/backpressure.ts';

/** Lists that page: newest first, `--limit N` rows (100 unless told) or `--all`; stderr says when more exist. */
const listOptions = (c: Command): Command =>
  c.option('--limit <n>', 'show at most this many (default 100)').option('--all', 'show every one (follows pages)');

const program = newProgram();
addCopyCommand(program);

program
  .command('inspect')
  .description('show digest, media type, platforms, size, labels and referrers of an image')
  .argument('<REF>', 'HOST/REPO:TAG or HOST/REPO@sha256:...')
  .option('--creds <user:pass>', 'registry credentials (default: docker config.json)')
  .addOption(insecureOption())
  .option('--json', 'print JSON')
  .action(async (ref: string, flags) => (await import('./commands/inspect.ts')).inspectCommand(ref, flags));

program
  .command('verify')
  .description(
    "check hoist's signed promotion attestations on an image, straight from the registry: exits 0 when a chain of them reaches --env, 3 with the reason if not",
  )
  .argument('<REF>', 'HOST/REPO:TAG or HOST/REPO@sha256:...')
  .requiredOption('--env <name>', 'the environment the image must have been promoted into')
  .option(
    '--key <pub.pem>',
    "hoist's public signing key (repeatable; default: the keys of the server you are logged in to)",
    collect,
  )
  .option('--creds <user:pass>', 'registry credentials (default: docker config.json)')
  .addOption(insecureOption())
  .option('--json', 'print JSON')
  .action(async (ref: string, flags) => (await import('./commands/verify.ts')).verifyCommand(ref, flags));

program
  .command('tags')
  .description('list the tags of a repository')
  .argument('<REPO>', 'HOST/REPO')
  .option('--creds <user:pass>', 'registry credentials (default: docker config.json)')
  .addOption(insecureOption())
  .option('--json', 'print JSON')
  .action(async (repo: string, flags) => (await import('./commands/tags.ts')).tagsCommand(repo, flags));

program
  .command('serve')
  .description('run the hoist server (API and web UI) on the embedded database or PostgreSQL')
  .addOption(new Option('--port <port>', 'port to listen on').env('HOIST_PORT').default('8080'))
  .addOption(
    new Option('--host <address>', 'address to listen on (0.0.0.0 for all)').env('HOIST_HOST').default('127.0.0.1'),
  )
  .addOption(
    new Option(
      '--trust-proxy',
      'behind a reverse proxy: take the client address and HTTPS from X-Forwarded-For/-Proto (Secure session cookie)',
    ).env('HOIST_TRUST_PROXY'),
  )
  .addOption(
    new Option('--data-dir <dir>', 'where the embedded database and the secret key live')
      .env('HOIST_DATA_DIR')
      .default('./.hoist'),
  )
  .addOption(
    new Option(
      '--database-url <url>',
      'PostgreSQL instead of the embedded database (postgres://user:pass@host:5432/db)',
    ).env('HOIST_DATABASE_URL'),
  )
  .addOption(new Option('--log-level <level>', 'pino log level').env('HOIST_LOG_LEVEL').default('info'))
  .addOption(
    new Option(
      '--smtp-url <url>',
      'send approval requests by e-mail through this SMTP server (smtp://user:pass@host:587)',
    ).env('HOIST_SMTP_URL'),
  )
  .addOption(
    new Option('--smtp-from <address>', 'the From of those e-mails')
      .env('HOIST_SMTP_FROM')
      .default('hoist <hoist@localhost>'),
  )
  .addOption(
    new Option(
      '--promotion-lease-ms <ms>',
      'how long a claimed promotion stays with a server that stopped renewing it (renewed every third of it); another replica, or this one restarted, takes it over after that',
    )
      .env('HOIST_PROMOTION_LEASE_MS')
      .default('15000'),
  )
  .addOption(
    new Option(
      '--promotion-retry-for <duration>',
      'how long a promotion that fails for a transient reason (registry down, 5xx, connection refused) is retried, with capped exponential backoff, before it is FAILED (90s, 10m, 1h; 0: not retried); a permanent failure (digest mismatch, refused credentials) fails at once',
    )
      .env('HOIST_PROMOTION_RETRY_FOR')
      .default('10m'),
  )
  .addOption(
    new Option(
      '--gitops-retry-for <duration>',
      'how long a GitOps write-back that fails for a transient reason (the remote unreachable, the branch moving) is retried before the target shows GITOPS_FAILED (90s, 30m, 2h); a refusal by the remote (hook, protected branch, bad token) fails at once',
    )
      .env('HOIST_GITOPS_RETRY_FOR')
      .default('30m'),
  )
  .addOption(
    new Option(
      '--shutdown-grace-ms <ms>',
      'on SIGTERM, how long running promotions may finish before they are aborted and handed back to the queue',
    )
      .env('HOIST_SHUTDOWN_GRACE_MS')
      .default('10000'),
  )
  .addOption(
    new Option(
      '--max-in-flight <n>',
      'backpressure: while this many requests are in progress, answer new ones 503 with Retry-After (0: no limit; /healthz is always answered)',
    )
      .env('HOIST_MAX_IN_FLIGHT')
      .default(String(BACKPRESSURE_DEFAULTS.maxInFlight)),
  )
  .addOption(
    new Option(
      '--max-event-loop-delay-ms <ms>',
      'backpressure: while the event loop is this late, answer new requests 503 with Retry-After (e.g. 1000; 0: no limit)',
    )
      .env('HOIST_MAX_EVENT_LOOP_DELAY_MS')
      .default(String(BACKPRESSURE_DEFAULTS.maxEventLoopDelayMs)),
  )
  .action(async (flags) => (await import('./commands/serve.ts')).serveCommand(flags));

program
  .command('db')
  .description('database maintenance')
  .command('migrate')
  .description('apply schema migrations (hoist serve does this at start too)')
  .addOption(new Option('--data-dir <dir>', 'embedded database location').env('HOIST_DATA_DIR').default('./.hoist'))
  .addOption(new Option('--database-url <url>', 'PostgreSQL URL').env('HOIST_DATABASE_URL'))
  .action(async (flags) => (await import('./commands/db.ts')).dbMigrateCommand(flags));

program
  .command('login')
  .description('sign in to a hoist server and store an API token in ~/.config/hoist/config.json (mode 0600)')
  .requiredOption('--server <url>', 'the hoist server, e.g. http://127.0.0.1:8080')
  .option('--username <name>', 'user name', 'admin')
  .option('--password-stdin', 'read the password from standard input')
  .option('--sso', "sign in with the server's single sign-on, in a browser (loopback redirect to this CLI)")
  .option('--no-browser', 'with --sso: only print the sign-in URL, do not open a browser')
  .action(async (flags) => (await import('./commands/login.ts')).loginCommand(flags));

const control = () => import('./commands/control.ts');
const withOutput = (c: Command): Command =>
  c.option('-o, --output <format>', 'table, json or yaml (default: table on a terminal, json otherwise)');

const registryCmd = program.command('registry').description('registries hoist copies between (admins change them)');
withOutput(registryCmd.command('list').description('list registries')).action(async (f) =>
  (await control()).registry.list(f),
);
withOutput(registryCmd.command('show').argument('<name>')).action(async (n: string, f) =>
  (await control()).registry.show(n, f),
);
withOutput(
  registryCmd
    .command('set')
    .description('create or update a registry')
    .argument('<name>')
    .requiredOption('--url <url>', 'host[:port] or http(s)://host[:port]')
    .option('--insecure', 'plain HTTP')
    .option('--username <user>', 'user name; the password or token is read from a prompt or --password-stdin')
    .option('--password-stdin', 'read the password or token from standard input'),
).action(async (n: string, f) => (await control()).registry.set(n, f));
withOutput(
  registryCmd
    .command('set-hook-secret')
    .description(
      'set the secret the registry sends with its push events (Authorization: Bearer SECRET); hoist makes one up unless --secret-stdin',
    )
    .argument('<name>')
    .requiredOption('--kind <kind>', 'distribution, harbor or generic')
    .option('--secret-stdin', 'read the secret from standard input'),
).action(async (n: string, f) => (await automation()).events.setSecret(n, f));
registryCmd
  .command('remove')
  .argument('<name>')
  .action(async (n: string) => (await control()).registry.remove(n));
withOutput(
  registryCmd.command('test').description('reachable? credentials accepted? referrers API?').argument('<name>'),
).action(async (n: string, f) => (await control()).registry.test(n, f));

const projectCmd = program.command('project').description('projects, their members and roles');
withOutput(projectCmd.command('list')).action(async (f) => (await control()).project.list(f));
withOutput(projectCmd.command('show').argument('<name>')).action(async (n: string, f) =>
  (await control()).project.show(n, f),
);
withOutput(projectCmd.command('create').argument('<name>').option('--description <text>')).action(
  async (n: string, f) => (await control()).project.create(n, f),
);
projectCmd
  .command('delete')
  .argument('<name>')
  .action(async (n: string) => (await control()).project.remove(n));
withOutput(projectCmd.command('members').argument('<project>')).action(async (n: string, f) =>
  (await control()).project.members(n, f),
);
withOutput(
  projectCmd
    .command('grant')
    .description('give a user a role (owner, promoter, developer, viewer), optionally only for some environments')
    .argument('<project>')
    .argument('<user>')
    .argument('<role>')
    .option('--env <name>', 'limit the role to this environment (repeatable)', collect),
).action(async (p: string, u: string, r: string, f) => (await control()).project.grant(p, u, r, f));

withOutput(projectCmd.command('namespaces').argument('<project>')).action(async (n: string, f) =>
  (await control()).project.namespaces(n, f),
);
withOutput(
  projectCmd
    .command('grant-namespace')
    .description("admins: give a project a registry's repository prefix (its environments and artifacts stay in it)")
    .argument('<project>')
    .requiredOption('--registry <name>')
    .requiredOption('--prefix <path>', 'e.g. shop/'),
).action(async (p: string, f) => (await control()).project.grantNamespace(p, f));
projectCmd
  .command('revoke-namespace')
  .argument('<project>')
  .requiredOption('--registry <name>')
  .requiredOption('--prefix <path>')
  .action(async (p: string, f: { registry: string; prefix: string }) =>
    (await control()).project.revokeNamespace(p, f),
  );

const trust = () => import('./commands/trust.ts');
const trustCmd = program
  .command('trust')
  .description(
    'the public keys and Sigstore identities a project trusts to sign its images (policies: signature.verified, signature.signers)',
  );
withOutput(
  trustCmd
    .command('add')
    .description(
      'trust a public key (PEM: ECDSA P-256, Ed25519 or RSA) or a Sigstore identity under a name, or replace it (owners)',
    )
    .argument('<name>')
    .requiredOption('--project <name>')
    .option('--key <file>', 'the PEM public key, e.g. cosign.pub')
    .option('--sigstore-issuer <url>', "a Sigstore identity: the certificate's OIDC issuer, exactly")
    .option('--sigstore-issuer-regex <re2>', 'or the OIDC issuer as an RE2 pattern (anchor it with ^…$)')
    .option('--sigstore-subject <identity>', "the certificate's subject (e-mail or URI), exactly")
    .option('--sigstore-subject-regex <re2>', 'or the subject as an RE2 pattern (anchor it with ^…$)')
    .option(
      '--trusted-root <file>',
      "Sigstore's trusted_root.json the certificates must chain to (read, never fetched)",
    ),
).action(async (n: string, f) => (await trust()).trust.add(n, f));
withOutput(trustCmd.command('list').requiredOption('--project <name>')).action(async (f) =>
  (await trust()).trust.list(f),
);
trustCmd
  .command('remove')
  .argument('<name>')
  .requiredOption('--project <name>')
  .action(async (n: string, f: { project: string }) => (await trust()).trust.remove(n, f));

const appCmd = program.command('app').description("a project's applications (image names)");
withOutput(appCmd.command('list').argument('<project>')).action(async (p: string, f) =>
  (await control()).app.list(p, f),
);
appCmd
  .command('add')
  .argument('<project>')
  .argument('<name>')
  .action(async (p: string, n: string) => (await control()).app.add(p, n));
appCmd
  .command('remove')
  .argument('<project>')
  .argument('<name>')
  .action(async (p: string, n: string) => (await control()).app.remove(p, n));

const webhookCmd = program
  .command('webhook')
  .description("a project's outgoing webhooks (promotion events, HMAC-signed)");
withOutput(webhookCmd.command('list').requiredOption('--project <name>')).action(async (f) =>
  (await control()).webhook.list(f),
);
withOutput(
  webhookCmd
    .command('add')
    .argument('<url>')
    .requiredOption('--project <name>')
    .option(
      '--event <name>',
      'only this event (repeatable): promotion.requested, promotion.approval_needed, promotion.approved, promotion.rejected, promotion.promoted, promotion.failed',
      collect,
    )
    .option('--secret-stdin', 'read the signing secret from stdin (default: hoist makes one up and prints it once)'),
).action(async (u: string, f) => (await control()).webhook.add(u, f));
webhookCmd
  .command('delete')
  .argument('<id>')
  .requiredOption('--project <name>')
  .action(async (id: string, f) => (await control()).webhook.remove(id, f));
withOutput(webhookCmd.command('deliveries').argument('<id>').requiredOption('--project <name>')).action(
  async (id: string, f) => (await control()).webhook.deliveries(id, f),
);

const automation = () => import('./commands/automation.ts');
const ruleCmd = program
  .command('rule')
  .description(
    'auto-promotion rules: when an artifact in one environment matches, promote it (or ask for approval) to another',
  );
withOutput(
  ruleCmd
    .command('create')
    .argument('[name]')
    .requiredOption('--project <name>')
    .option(
      '-f, --file <file>',
      'the rule as YAML (name, application, from, to, criteria, cel, tagTemplate, mode); flags override it',
    )
    .option('--app <name>', 'only this application')
    .option('--from <env>', 'source environment')
    .option('--to <env>', 'target environment')
    .option(
      '--criterion <criterion>',
      'all must match (repeatable): "tag startsWith v", "tag oneOf a,b", "tag matches ^v[0-9]+$", "label team=shop", "critical <= 0", "license notOneOf AGPL-3.0", "component absent log4j-core", "signature present", "cel EXPR"',
      collect,
    )
    .option('--cel <expression>', 'a CEL expression that must be true')
    .option(
      '--tag-template <template>',
      'the tag at the target: %n (source tag), %Y%m%d…, {tag} {digest} {shortDigest} {timestamp} {env} {app}',
    )
    .option(
      '--mode <mode>',
      'promote (execute where the policy needs no approval) or request (always ask approvers)',
      'promote',
    )
    .option('--dry-run', 'show which artifacts now in the source environment would match; save nothing'),
).action(async (n: string | undefined, f) => (await automation()).rule.create(n, f));
withOutput(ruleCmd.command('list').requiredOption('--project <name>')).action(async (f) =>
  (await automation()).rule.list(f),
);
withOutput(ruleCmd.command('show').argument('<name>').requiredOption('--project <name>')).action(async (n: string, f) =>
  (await automation()).rule.show(n, f),
);
ruleCmd
  .command('delete')
  .argument('<name>')
  .requiredOption('--project <name>')
  .action(async (n: string, f) => (await automation()).rule.remove(n, f));

const bindingCmd = program
  .command('binding')
  .description('how an application’s version is chosen per environment: track the latest good build, or pin a digest');
withOutput(
  bindingCmd
    .command('set')
    .argument('<app>')
    .requiredOption('--project <name>')
    .requiredOption('--env <name>')
    .option('--track-latest', 'follow the newest upstream build that has soaked and passes the rules and policy')
    .option(
      '--pin <digest>',
      'stay on this digest (sha256: + 64 lower-case hex); changing it is a promotion with approvals',
    )
    .option('--comment <text>', 'why (for a pin)'),
).action(async (a: string, f) => (await automation()).binding.set(a, f));
withOutput(bindingCmd.command('list').requiredOption('--project <name>')).action(async (f) =>
  (await automation()).binding.list(f),
);
bindingCmd
  .command('delete')
  .argument('<app>')
  .requiredOption('--project <name>')
  .requiredOption('--env <name>')
  .action(async (a: string, f) => (await automation()).binding.remove(a, f));

const windowCmd = program.command('window').description('promotion windows: when promotions may enter an environment');
withOutput(
  windowCmd
    .command('set')
    .argument('<env>')
    .requiredOption('--project <name>')
    .option(
      '--window <spec>',
      'DAYS HH:MM-HH:MM TIMEZONE, e.g. "mon-fri 09:00-17:00 Europe/Berlin" (repeatable)',
      collect,
    )
    .option('--always', 'no windows: always open'),
).action(async (e: string, f) => (await automation()).window.set(e, f));

withOutput(
  program
    .command('quarantine')
    .description('block a digest from every further promotion (admins); without a digest, list them')
    .argument('[digest]')
    .option('--reason <text>', 'why'),
).action(async (d: string | undefined, f) => (await automation()).quarantine.add(d, f));
program
  .command('unquarantine')
  .description('lift a quarantine (audited)')
  .argument('<digest>')
  .option('--comment <text>')
  .action(async (d: string, f) => (await automation()).quarantine.lift(d, f));

const watchCmd = program
  .command('watch')
  .description('repositories the poller watches, for registries that send no push events');
withOutput(
  watchCmd
    .command('add')
    .argument('<registry/repository>')
    .option('--interval <seconds>', 'seconds between checks', '60'),
).action(async (r: string, f) => (await automation()).watch.add(r, f));
withOutput(watchCmd.command('list')).action(async (f) => (await automation()).watch.list(f));
watchCmd
  .command('remove')
  .argument('<id>')
  .action(async (id: string) => (await automation()).watch.remove(id));

withOutput(
  listOptions(program.command('events').description('push events received and what became of them, newest first')),
).action(async (f) => (await automation()).events.list(f));

const envCmd = program.command('env').description("a project's environments");
withOutput(envCmd.command('list').argument('<project>')).action(async (p: string, f) =>
  (await control()).env.list(p, f),
);
withOutput(
  envCmd
    .command('set')
    .description('create or update an environment')
    .argument('<project>')
    .argument('<name>')
    .requiredOption('--kind <kind>', 'repository (own repository per stage) or tag (one repository, a tag per stage)')
    .requiredOption('--registry <name>', 'registry name')
    .requiredOption('--repository <template>', 'repository template, e.g. prod/{app}')
    .option('--tag <convention>', 'kind tag: the stage tag, e.g. prod or {tag}-prod')
    .option('--position <n>', 'order in the pipeline')
    .option('--protected', 'a protected environment')
    .option('--immutable-tags', 'tags may not be overwritten')
    .option('--no-allow-tag-move', 'a tag may not move to another digest')
    .option('--soak <duration>', 'an artifact may leave only after it has been here this long (90s, 30m, 1h, 2d)'),
).action(async (p: string, n: string, f) => (await control()).env.set(p, n, f));
envCmd
  .command('delete')
  .argument('<project>')
  .argument('<name>')
  .action(async (p: string, n: string) => (await control()).env.remove(p, n));
const gitTarget = () => import('./commands/git-target.ts');
const gitTargetCmd = envCmd
  .command('git-target')
  .description('GitOps write-back: after a promotion, hoist commits the digest to this repository');
withOutput(
  gitTargetCmd
    .command('set')
    .description('where and what to update (protected environments: admins only)')
    .argument('<project>')
    .argument('<env>')
    .requiredOption('--url <url>', 'file:///path (admins), http(s)://host/repo.git or ssh://git@host/repo.git')
    .requiredOption('--branch <branch>', 'the branch to update (or, with --mode branch, to start from)')
    .requiredOption('--path <path>', 'file (or manifests directory) in the repository; {app} is the application')
    .requiredOption('--edit <kind>', 'kustomize (images: entry), helm (values key) or manifests (every image: field)')
    .option('--key <dotted>', 'helm: the values key (default image.digest)')
    .option('--image <name>', "the image name as the files spell it (default: the environment's registry/repository)")
    .option('--new-name <name>', 'kustomize: also write newName')
    .option('--mode <mode>', 'push (commit to the branch, default) or branch (a new branch per promotion)')
    .option('--username <name>', 'http(s): the user name sent with the token; ssh: the user')
    .option('--secret-stdin', 'read the token or SSH private key from standard input (sealed, never shown)')
    .option('--known-hosts-file <file>', 'ssh: known_hosts lines for the server'),
).action(async (p: string, e: string, f) => (await gitTarget()).setGitTarget(p, e, f));
withOutput(gitTargetCmd.command('show').argument('<project>').argument('<env>')).action(
  async (p: string, e: string, f) => (await gitTarget()).showGitTarget(p, e, f),
);
gitTargetCmd
  .command('unset')
  .argument('<project>')
  .argument('<env>')
  .action(async (p: string, e: string) => (await gitTarget()).unsetGitTarget(p, e));

const pipelineCmd = program.command('pipeline').description("a project's allowed promotion edges");
withOutput(pipelineCmd.command('show').argument('<project>')).action(async (p: string, f) =>
  (await control()).pipeline.show(p, f),
);
withOutput(
  pipelineCmd
    .command('set')
    .description('replace the edges, e.g. dev:staging staging:prod')
    .argument('<project>')
    .argument('<edges...>'),
).action(async (p: string, e: string[], f) => (await control()).pipeline.set(p, e, f));

const userCmd = program.command('user').description('users (admins)');
withOutput(userCmd.command('list')).action(async (f) => (await control()).user.list(f));
withOutput(
  userCmd
    .command('create')
    .argument('<username>')
    .option('--admin')
    .option('--password-stdin')
    .option('--email <address>', 'where approval requests are mailed'),
).action(async (u: string, f) => (await control()).user.create(u, f));
withOutput(
  userCmd
    .command('set')
    .argument('<username>')
    .option('--email <address>', 'where approval requests are mailed ("" clears it)'),
).action(async (u: string, f) => (await control()).user.set(u, f));

const tokenCmd = program.command('token').description('your API tokens');
withOutput(tokenCmd.command('list')).action(async (f) => (await control()).token.list(f));
withOutput(tokenCmd.command('create').argument('<name>').option('--expires-in-days <n>')).action(async (n: string, f) =>
  (await control()).token.create(n, f),
);
tokenCmd
  .command('revoke')
  .argument('<id>')
  .action(async (id: string) => (await control()).token.revoke(id));

const ssoCmd = program.command('sso').description('single sign-on with an OpenID provider (admins)');
withOutput(ssoCmd.command('show').description('the provider and group mappings (never the secret)')).action(async (f) =>
  (await import('./commands/sso.ts')).sso.show(f),
);
withOutput(
  ssoCmd
    .command('set')
    .description('configure the OpenID provider; replaces the whole configuration (the secret is kept unless given)')
    .requiredOption('--issuer <url>', "the provider's issuer URL (https; its discovery document is read now)")
    .requiredOption(
      '--client-id <id>',
      'the client registered for hoist (redirect URI: <hoist URL>/api/v1/sso/callback)',
    )
    .option('--client-secret-stdin', 'read the client secret from standard input')
    .option('--public-client', 'no client secret (PKCE only); removes a stored one')
    .option('--name <text>', 'shown on the sign-in page as "Sign in with <name>"')
    .option('--scope <scope>', 'a scope to ask for (repeatable; default openid profile email)', collect)
    .option('--groups-claim <claim>', 'the claim that lists the groups (default groups)')
    .option(
      '--group-role <group:project:role>',
      'members of the group get the role in the project; GROUP:*:admin makes hoist admins (repeatable)',
      collect,
    ),
).action(async (f) => (await import('./commands/sso.ts')).sso.set(f));
ssoCmd
  .command('unset')
  .description('turn single sign-on off')
  .action(async () => (await import('./commands/sso.ts')).sso.unset());

const auditCmd = program.command('audit').description('the hash-chained audit log (admins)');
withOutput(
  auditCmd
    .command('list')
    .option('--actor <user>')
    .option('--object-type <type>')
    .option('--object-id <id>')
    .option('--since <iso-time>')
    .option('--limit <n>'),
).action(async (f) => (await control()).audit.list(f));
withOutput(
  auditCmd
    .command('verify')
    .description(
      'recompute the chain and check it against a signed checkpoint (the stored one, or --checkpoint FILE); names the first edited, deleted or reordered row, or the truncation',
    )
    .option('--checkpoint <file>', 'a checkpoint kept outside hoist (as `hoist audit checkpoint` prints it)'),
).action(async (f) => (await control()).audit.verify(f));
auditCmd
  .command('checkpoint')
  .description('print the latest signed checkpoint and the public key that verifies it (JSON); keep it outside hoist')
  .action(async () => (await control()).audit.checkpoint());

program
  .command('apply')
  .description('create or update registries, projects, applications, environments and pipelines from a file')
  .requiredOption('-f, --file <file>', 'the YAML file (see examples/hoist.yaml)')
  .option('--dry-run', 'print the plan, change nothing')
  .option('--prune', 'also delete registries and projects the file does not mention')
  .action(async (flags) => (await import('./commands/apply.ts')).applyCommand(flags));
program
  .command('export')
  .description("write the server's registries, projects, environments and pipelines in the apply format")
  .option('-f, --file <file>', 'write to this file instead of standard output')
  .action(async (flags) => (await import('./commands/apply.ts')).exportCommand(flags));

const artifactCmd = program.command('artifact').description('images CI built, as hoist read them from the registry');
withOutput(
  artifactCmd
    .command('register')
    .description('register an image CI built; hoist reads its digest, platforms, labels and attachments itself')
    .argument('<reference>', 'HOST/REPO:TAG or HOST/REPO@sha256:…')
    .requiredOption('--project <name>')
    .requiredOption('--app <name>')
    .option('--branch <branch>')
    .option('--commit <sha>')
    .option('--builder <user>')
    .option('--ci-url <url>')
    .option('--label <key=value>', 'repeatable', collect),
).action(async (r: string, f) => (await control()).artifact.register(r, f));
withOutput(
  artifactCmd
    .command('list')
    .requiredOption('--project <name>')
    .requiredOption('--app <name>')
    .option('--env <name>', 'only those in this environment'),
).action(async (f) => (await control()).artifact.list(f));
withOutput(
  artifactCmd.command('show').argument('<digest>').requiredOption('--project <name>').requiredOption('--app <name>'),
).action(async (d: string, f) => (await control()).artifact.show(d, f));

const promote = () => import('./commands/promote.ts');
withOutput(
  program
    .command('promote')
    .description(
      'ask to promote an image of an application from one environment to others; exits 3 when a target is refused',
    )
    .argument('<app>')
    .requiredOption('--project <name>')
    .option('--digest <sha256:…>', 'the image by digest')
    .option('--tag <tag>', 'the image by its tag in the source environment')
    .requiredOption('--from <env>')
    .requiredOption('--to <env[,env]>', 'one or more target environments')
    .option('--comment <text>')
    .option(
      '--wait [seconds]',
      'wait until hoist has carried the targets out (promoted, failed, or waiting for people or time); default 600 s',
    ),
).action(async (a: string, f) => (await promote()).promoteCommand(a, f));
for (const decision of ['approve', 'reject'] as const) {
  withOutput(
    program
      .command(decision)
      .description(`${decision} a promotion request (promoters of the target environment)`)
      .argument('<id>')
      .requiredOption('--project <name>')
      .option('--for <env[,env]>', 'only these target environments')
      .option('--comment <text>')
      .option(
        '--wait [seconds]',
        'wait until hoist has carried the targets out (promoted, failed, or waiting for people or time); default 600 s',
      ),
  ).action(async (id: string, f) => (await promote()).decideCommand(decision, id, f));
}
withOutput(
  program
    .command('cancel')
    .description('cancel your promotion request')
    .argument('<id>')
    .requiredOption('--project <name>'),
).action(async (id: string, f) => (await promote()).cancelCommand(id, f));
withOutput(
  program
    .command('retry')
    .description(
      'queue the FAILED targets of a promotion request again; policy, approvals, window and quarantine are checked again (those who may request promotions to those environments)',
    )
    .argument('<id>')
    .requiredOption('--project <name>')
    .option('--for <env[,env]>', 'only these target environments')
    .option(
      '--wait [seconds]',
      'wait until hoist has carried the targets out (promoted, failed, or waiting for people or time); default 600 s',
    ),
).action(async (id: string, f) => (await promote()).retryCommand(id, f));
withOutput(
  program
    .command('request')
    .description("one promotion request: each target's steps (requested, approvals, copy, outcome), who and when")
    .argument('<id>')
    .requiredOption('--project <name>'),
).action(async (id: string, f) => (await promote()).requestCommand(id, f));
withOutput(
  listOptions(
    program
      .command('requests')
      .description("a project's promotion requests")
      .requiredOption('--project <name>')
      .option('--env <name>')
      .option('--state <state>')
      .option('--pending-for-me', 'only those waiting for your approval'),
  ),
).action(async (f) => (await promote()).requestsCommand(f));

withOutput(
  listOptions(
    program
      .command('history')
      .description('what was promoted when, by whom, from where to where, with approvals, policy and bytes copied')
      .requiredOption('--project <name>')
      .option('--app <name>')
      .option('--env <name>')
      .option('--digest <sha256:…>')
      .option('--user <name>', 'who asked')
      .option('--since <iso-time>'),
  ),
).action(async (f) => (await promote()).historyCommand(f));
withOutput(
  program
    .command('check-deploy')
    .description('may this digest run in this environment? exits 0 if so, 3 with the reason if not (for deploy gates)')
    .requiredOption('--project <name>')
    .requiredOption('--env <name>')
    .requiredOption('--digest <sha256:…>')
    .option('--deployer <user>', 'who deploys (an approver may not, unless the policy allows it)')
    .option(
      '--require-attestation',
      "also require hoist's signed promotion attestations on the image, read from the registry, to reach the environment",
    ),
).action(async (f) => (await promote()).checkDeployCommand(f));

const signingKeyCmd = program.command('signing-key').description('the keys hoist signs promotion attestations with');
withOutput(signingKeyCmd.command('list').description('current and retired public keys (PEM)')).action(async (f) =>
  (await import('./commands/signing-key.ts')).signingKey.list(f),
);
withOutput(
  signingKeyCmd
    .command('rotate')
    .description('admin: sign from now on with a new key; the old public key stays listed for verification'),
).action(async (f) => (await import('./commands/signing-key.ts')).signingKey.rotate(f));

const release = () => import('./commands/release.ts');
const releaseCmd = program
  .command('release')
  .description('releases: several applications at given digests, promoted together, all or none');
withOutput(
  releaseCmd
    .command('create')
    .description('name a set of (application, digest) pairs: given by --app, or what --from holds now')
    .argument('<name>', 'e.g. shop-1.4')
    .requiredOption('--project <name>')
    .option('--app <app=sha256:…>', 'an application and its digest (repeatable)', collect)
    .option('--from <env>', 'take what this environment holds now, one image per application')
    .option('--comment <text>'),
).action(async (n: string, f) => (await release()).createCommand(n, f));
withOutput(releaseCmd.command('list').description("a project's releases").requiredOption('--project <name>')).action(
  async (f) => (await release()).listCommand(f),
);
withOutput(
  releaseCmd
    .command('show')
    .description('a release and its promotion requests')
    .argument('<name>')
    .requiredOption('--project <name>'),
).action(async (n: string, f) => (await release()).showCommand(n, f));
withOutput(
  releaseCmd
    .command('promote')
    .description(
      'ask to promote every application of a release together (one request: approve it with hoist approve ID); exits 3 when a target is refused',
    )
    .argument('<name>')
    .requiredOption('--project <name>')
    .option('--from <env>', 'where the images are now (default: the environment the release was made from)')
    .requiredOption('--to <env[,env]>', 'one or more target environments')
    .option('--comment <text>'),
).action(async (n: string, f) => (await release()).promoteCommand(n, f));

const policyCmd = program
  .command('policy')
  .description('promotion policies: CEL conditions, approvals, separation of duties');
const policyOptions = (c: Command): Command =>
  withOutput(
    c
      .option('--description <text>')
      .option('--pass-condition <cel>', 'all must be true (repeatable; also --passCondition)', collect)
      .option('--fail-condition <cel>', 'any true denies (repeatable; also --failCondition)', collect)
      .option('--approver-count <n>', 'approvals needed, 0-6 (also --approverCount)')
      .option(
        '--allow-request-from-approve',
        'the requester may approve; =true|false, --no-… to switch off (also --allowRequestFromApprove=…)',
      )
      .option('--no-allow-request-from-approve')
      .option(
        '--allow-image-builder-from-approve',
        "the image's builder may approve; =true|false (also --allowImageBuilderFromApprove=…)",
      )
      .option('--no-allow-image-builder-from-approve')
      .option(
        '--allow-approver-from-deploy',
        'an approver may deploy it; =true|false (also --allowApproverFromDeploy=…)',
      )
      .option('--no-allow-approver-from-deploy')
      .option(
        '--allow-skip-stages',
        'promotions may come from any earlier stage without a pipeline edge (a hotfix); =true|false',
      )
      .option('--no-allow-skip-stages'),
  );
const policyCommands = () => import('./commands/policy.ts');
policyOptions(policyCmd.command('create').requiredOption('--name <name>')).action(async (f) =>
  (await policyCommands()).policy.create(f),
);
policyOptions(policyCmd.command('update').argument('<name>')).action(async (n: string, f) =>
  (await policyCommands()).policy.update(n, f),
);
withOutput(policyCmd.command('list')).action(async (f) => (await policyCommands()).policy.list(f));
withOutput(policyCmd.command('show').argument('<name>').option('--version <n>')).action(async (n: string, f) =>
  (await policyCommands()).policy.show(n, f),
);
withOutput(
  policyCmd
    .command('delete')
    .description('delete a policy; requests waiting under it become STALE (to be requested again), which needs --force')
    .argument('<name>')
    .option('--force', 'delete it even though waiting requests become STALE'),
).action(async (n: string, f) => (await policyCommands()).policy.remove(n, f));
withOutput(
  policyCmd
    .command('apply')
    .description("apply policies to application × environment pairs from Devtron's artifactPromotionPolicy file")
    .requiredOption('-f, --file <file>')
    .option('--project <name>', 'the project of the applications (default: the one project that has each)'),
).action(async (f) => (await policyCommands()).policy.apply(f));
withOutput(
  policyCmd
    .command('unapply')
    .description(
      'remove a policy from application × environment pairs (admins; deleting what a binding needs is refused)',
    )
    .argument('<name>')
    .argument('<targets...>', 'PROJECT/APP/ENV'),
).action(async (n: string, targets: string[], f) => (await policyCommands()).policy.unapply(n, targets, f));

/** devtctl's camelCase spellings of the policy flags. */
const DEVTCTL_FLAGS: Record<string, string> = {
  '--passCondition': '--pass-condition',
  '--failCondition': '--fail-condition',
  '--approverCount': '--approver-count',
  '--allowRequestFromApprove': '--allow-request-from-approve',
  '--allowImageBuilderFromApprove': '--allow-image-builder-from-approve',
  '--allowApproverFromDeploy': '--allow-approver-from-deploy',
  '--allowSkipStages': '--allow-skip-stages',
};
/** Switches that also take `=true` / `=false`, as Devtron's documented commands write them. */
const SWITCHES = new Set([
  '--allow-request-from-approve',
  '--allow-image-builder-from-approve',
  '--allow-approver-from-deploy',
  '--allow-skip-stages',
]);
/**
 * devtctl's spellings in commander's terms: `--approverCount=0` is `--approver-count=0`, and a switch given a value
 * (`--allowRequestFromApprove=false`) is the switch or its `--no-` form, so that `policy update` can turn one off.
 */
function devtctlSpellings(argv: string[]): string[] {
  return argv.map((a) => {
    const at = a.indexOf('=');
    const flag = at < 0 ? a : a.slice(0, at);
    const kebab = DEVTCTL_FLAGS[flag] ?? flag;
    if (!SWITCHES.has(kebab)) return kebab === flag ? a : `${kebab}${a.slice(flag.length)}`;
    if (at < 0) return kebab;
    const value = a.slice(at + 1).toLowerCase();
    if (value === 'true') return kebab;
    if (value === 'false') return `--no-${kebab.slice(2)}`;
    throw new InvalidInput(`"${a.slice(at + 1)}" is not true or false`, flag);
  });
}

void runProgram(program, () => devtctlSpellings(process.argv.slice(2)));
