/**
 * `hoist verify REF --env ENV [--key pub.pem ...]`: checks, straight from the registry and without a hoist server,
 * the promotion attestations hoist attached to the image at REF, and prints the chain of hops that brought it into
 * ENV (who asked, who approved, which policy version, when). Exit 0 only when a chain of verified attestations reaches
 * ENV; 3 (refused) with the reason otherwise: unsigned, signed with another key, tampered, made for another digest,
 * or a hop missing. Without --key the public keys come from the hoist server the CLI is logged in to.
 */
import { readFileSync } from 'node:fs';
import { InvalidInput } from '../../errors.ts';
import { formatReference, parseReference } from '../../oci/reference.ts';
import { openRepository } from '../../oci/registry.ts';
import { parsePublicKey } from '../../trust/keys.ts';
import type { HoistAttestation, NamedKey } from '../../trust/promotion-chain.ts';
import { verifyPromotionChain } from '../../trust/read-attestations.ts';
import { client } from '../client-config.ts';
import { EXIT_REFUSED } from '../exit-codes.ts';
import { credentialsFor, HostCache, insecureList, type RegistryFlags } from '../registry-flags.ts';

export interface VerifyFlags extends RegistryFlags {
  env: string;
  key?: string[];
  creds?: string;
  json?: boolean;
}

function keyFromPem(pem: string, name: string): NamedKey {
  const parsed = parsePublicKey(pem);
  if (!parsed.ok) throw new InvalidInput(`${name}: ${parsed.error}`, '--key');
  return { name, key: parsed.value };
}

async function keysOf(flags: VerifyFlags): Promise<NamedKey[]> {
  if (flags.key && flags.key.length > 0)
    return flags.key.map((path) => {
      let pem: string;
      try {
        pem = readFileSync(path, 'utf8');
      } catch (e) {
        throw new InvalidInput(`cannot read ${path}: ${(e as Error).message}`, '--key');
      }
      return keyFromPem(pem, path);
    });
  const listed = await client().signingKeys.list();
  return listed.map((k) => keyFromPem(k.publicKey, `hoist key ${k.keyId.slice(0, 19)}`));
}

function describeHop(a: HoistAttestation, n: number): string[] {
  const p = a.promotion;
  if (!p) return [];
  const approvals =
    p.approvals.length > 0 ? p.approvals.map((x) => `${x.username} (${x.at})`).join(', ') : 'none needed';
  const policy = p.policy ? `${p.policy.name} v${p.policy.version} (sha256:${p.policy.digest.slice(0, 12)}…)` : 'none';
  return [
    `${n}. ${p.from.environment} → ${p.to.environment}   ${a.vsa?.timeVerified ?? ''}`,
    `   project ${p.project}, application ${p.application}, request ${p.requestId}`,
    `   requested by ${p.requestedBy} at ${p.requestedAt}${p.comment ? ` (“${p.comment}”)` : ''}`,
    `   approved by  ${approvals}`,
    `   policy       ${policy}, result ${a.vsa?.verificationResult ?? '?'}`,
    `   at           ${p.to.reference}${p.to.tag ? ` (tag ${p.to.tag})` : ''}`,
    `   signed by    ${a.signer ?? '?'}; attestation ${a.manifest}`,
  ];
}

export async function verifyCommand(refArg: string, flags: VerifyFlags): Promise<void> {
  const ref = parseReference(refArg, 'REF');
  const keys = await keysOf(flags);
  const host = new HostCache(insecureList(flags)).open(
    ref.registry,
    credentialsFor(ref.registry, flags.creds, '--creds'),
  );
  const repo = openRepository(host, ref.repository);
  let digest = ref.digest;
  if (digest === undefined) {
    const head = await repo.headManifest(ref.tag ?? 'latest');
    if (!head) throw new InvalidInput(`${formatReference(ref)} does not exist`, 'REF');
    digest = head.digest;
  }
  const report = await verifyPromotionChain(repo, digest, keys, flags.env);
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ reference: formatReference(ref), environment: flags.env, ...report }, null, 2)}\n`,
    );
  } else {
    const lines = [`${formatReference(ref)}`, `digest ${digest}`];
    if (report.verdict.chain.length > 0) {
      lines.push(
        '',
        `chain ${report.verdict.chain.map((a) => a.promotion?.from.environment).join(' → ')} → ${flags.env}:`,
      );
      report.verdict.chain.forEach((a, i) => lines.push(...describeHop(a, i + 1)));
    }
    const rejected = report.attestations.filter((a) => !a.verified);
    if (rejected.length > 0) {
      lines.push('', 'not counted:');
      for (const a of rejected) lines.push(`  ${a.manifest}: ${a.reason}`);
    }
    lines.push(
      '',
      report.verdict.ok
        ? `verified: ${flags.env} reached through ${report.verdict.chain.length} signed promotion(s)`
        : `NOT verified for ${flags.env}: ${report.verdict.reason}`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (!report.verdict.ok) process.exitCode = EXIT_REFUSED;
}
