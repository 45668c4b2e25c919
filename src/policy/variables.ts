/**
 * The variables a policy condition can use, with their CEL types, what they mean and an example: the catalogue
 * `GET /api/v1/policy-variables` lists, and the typed CEL environment conditions are checked against. Devtron's
 * variable names are accepted as aliases.
 */
import { Environment } from '@marcbachmann/cel-js';

export interface VariableDoc {
  name: string;
  type: string;
  description: string;
  example: string;
}

const TS = 'google.protobuf.Timestamp';

export const VARIABLES: readonly VariableDoc[] = [
  {
    name: 'image.repository',
    type: 'string',
    description: 'repository path of the image',
    example: 'image.repository.startsWith("shop/")',
  },
  {
    name: 'image.tag',
    type: 'string',
    description: 'the tag being promoted',
    example: 'image.tag.matches("^v[0-9]+\\\\.[0-9]+\\\\.[0-9]+$")',
  },
  { name: 'image.digest', type: 'string', description: 'sha256:… digest', example: 'image.digest != ""' },
  {
    name: 'image.labels',
    type: 'map<string, string>',
    description: 'config labels',
    example: '"team" in image.labels && image.labels["team"] == "shop"',
  },
  {
    name: 'image.annotations',
    type: 'map<string, string>',
    description: 'manifest annotations',
    example: '"org.opencontainers.image.revision" in image.annotations',
  },
  {
    name: 'image.created',
    type: 'timestamp',
    description: 'when the image was built (config created)',
    example: 'now - image.created < duration("720h")',
  },
  {
    name: 'image.platforms',
    type: 'list<string>',
    description: 'os/architecture[/variant] of each platform',
    example: '"linux/arm64" in image.platforms',
  },
  { name: 'build.branch', type: 'string', description: 'branch CI built from', example: 'build.branch == "main"' },
  { name: 'build.commit', type: 'string', description: 'commit CI built', example: 'size(build.commit) == 40' },
  {
    name: 'build.builder',
    type: 'string',
    description: 'who (or which CI user) built it',
    example: 'build.builder != request.user',
  },
  {
    name: 'build.ciUrl',
    type: 'string',
    description: 'link to the CI run',
    example: 'build.ciUrl.startsWith("https://ci.example/")',
  },
  { name: 'scan.present', type: 'bool', description: 'a vulnerability report is attached', example: 'scan.present' },
  {
    name: 'scan.critical',
    type: 'int',
    description: 'critical vulnerabilities in the attached report',
    example: 'scan.critical == 0',
  },
  { name: 'scan.high', type: 'int', description: 'high vulnerabilities', example: 'scan.high <= 3' },
  { name: 'scan.medium', type: 'int', description: 'medium vulnerabilities', example: 'scan.medium < 20' },
  { name: 'scan.low', type: 'int', description: 'low vulnerabilities', example: 'scan.low < 100' },
  {
    name: 'sbom.licenses',
    type: 'list<string>',
    description: 'licenses in the attached SBOM',
    example: '!("AGPL-3.0" in sbom.licenses)',
  },
  {
    name: 'sbom.components',
    type: 'list<string>',
    description: 'component names in the attached SBOM',
    example: '!sbom.components.exists(c, c.startsWith("log4j"))',
  },
  {
    name: 'signature.present',
    type: 'bool',
    description: 'a signature is attached (unverified: anyone who can push can attach one; see signature.verified)',
    example: 'signature.present',
  },
  {
    name: 'signature.verified',
    type: 'bool',
    description: "a cosign signature naming this digest and repository verifies with one of the project's trust roots",
    example: 'signature.verified',
  },
  {
    name: 'signature.signers',
    type: 'list<string>',
    description: 'the trust roots (names) that verified a signature',
    example: '"release-key" in signature.signers',
  },
  {
    name: 'attestations',
    type: 'list<map<string, dyn>>',
    description:
      'in-toto attestations (DSSE) for this digest: {predicateType, signer, verified}; signer is "" when unverified',
    example: 'attestations.exists(a, a.verified && a.predicateType == "https://slsa.dev/provenance/v1")',
  },
  {
    name: 'provenance.builder',
    type: 'string',
    description: 'builder id of a verified SLSA provenance attestation ("" when none)',
    example: 'provenance.builder.startsWith("https://github.com/actions/runner")',
  },
  {
    name: 'provenance.sourceRepo',
    type: 'string',
    description: 'source repository of a verified SLSA provenance attestation ("" when none)',
    example: 'provenance.sourceRepo.contains("github.com/shop/")',
  },
  {
    name: 'source.environment',
    type: 'string',
    description: 'environment promoted from',
    example: 'source.environment == "staging"',
  },
  {
    name: 'target.environment',
    type: 'string',
    description: 'environment promoted to',
    example: 'target.environment == "prod"',
  },
  {
    name: 'request.user',
    type: 'string',
    description: 'who asked for the promotion',
    example: 'request.user != build.builder',
  },
  {
    name: 'now',
    type: 'timestamp',
    description: 'the time of evaluation',
    example: 'now.getDayOfWeek() in [1, 2, 3, 4]',
  },
  {
    name: 'containerRepository',
    type: 'string',
    description: 'Devtron alias of image.repository',
    example: 'containerRepository.startsWith("shop/")',
  },
  {
    name: 'containerImage',
    type: 'string',
    description: 'Devtron alias: repository:tag',
    example: 'containerImage.endsWith(":v1")',
  },
  {
    name: 'containerImageTag',
    type: 'string',
    description: 'Devtron alias of image.tag',
    example: 'containerImageTag.startsWith("v")',
  },
  {
    name: 'imageLabels',
    type: 'list<string>',
    description: 'Devtron alias: the labels as "key=value" strings',
    example: '"team=shop" in imageLabels',
  },
  {
    name: 'gitCommitDetails',
    type: 'map<string, string>',
    description: 'Devtron alias: {branch, commit, builder, ciUrl}',
    example: 'gitCommitDetails["branch"] == "main"',
  },
];

const celType = (t: string): string => t.replace('timestamp', TS);

let environment: Environment | undefined;

/** The typed CEL environment every condition is checked and run in (built once). */
export function policyEnvironment(): Environment {
  if (environment) return environment;
  const groups = new Map<string, Record<string, string>>();
  // Parser limits: the text is at most 4,096 characters; these keep its tree small and shallow too.
  const env = new Environment({
    limits: { maxAstNodes: 2048, maxDepth: 48, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 32 },
  });
  for (const v of VARIABLES) {
    const [head, field] = v.name.split('.') as [string, string | undefined];
    if (field === undefined) env.registerVariable(head, celType(v.type));
    else groups.set(head, { ...(groups.get(head) ?? {}), [field]: celType(v.type) });
  }
  for (const [name, fields] of groups) {
    const typeName = `hoist.${name[0]?.toUpperCase()}${name.slice(1)}`;
    env.registerType(typeName, { fields });
    env.registerVariable(name, typeName);
  }
  environment = env;
  return env;
}
