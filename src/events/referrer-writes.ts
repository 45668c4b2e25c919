/**
 * hoist's own referrer writes, announced to the intake before they are made, as the runner announces its copies
 * (../service/own-pushes.ts). After PROMOTED the attestor attaches the signed attestation as an OCI referrer of the
 * promoted digest: its manifest by digest and, on a registry without the referrers API, the `sha256-<hex>` fallback
 * index; the registry reports each back as a push event. Worked in full, such an event costs a confirmation from the
 * registry, a new read of every artifact with the subject's digest (referrers, reports and signatures, each read in
 * the artifact's own repository) and a run of the automation, and in a burst it queues ahead of the pushes that matter.
 * It learns nothing when no artifact of the subject lives in the repository written: the referrers read again are
 * those of the artifacts' repositories, which the write did not change.
 *
 * So before pushing, the attestor asks the store whether an artifact of the subject lives in the target repository
 * (`readsReferrers`); if one does, the events are worked as any other (the write changes what that artifact's
 * referrers say). If none does, every manifest written through the returned client is remembered by the digest of its
 * bytes (and its tag, for the index) for a while, and the hook recognises exactly those events. Another writer's push
 * to the same repository, or to the same fallback tag right after ours, has other bytes, so another digest: it is
 * worked in full.
 */
import { digestLike } from '../oci/digest.ts';
import type { RepositoryClient } from '../oci/registry-client.ts';
import type { OwnPushes } from '../service/own-pushes.ts';

export interface ReferrerTarget {
  registryId: string;
  repository: string;
  /** The digest the referrers refer to (the promoted image). */
  subject: string;
}

/** As the client tells them apart: a tag has no colon. */
const isDigest = (ref: string): boolean => ref.includes(':');

/** The same client, announcing each manifest it is about to put (the index put inside it included). */
export function announcingManifests(
  repo: RepositoryClient,
  announce: (written: { digest: string; tag?: string }) => void,
): RepositoryClient {
  return new Proxy(repo, {
    get(target, key, receiver) {
      if (key !== 'putManifest') return Reflect.get(target, key, receiver) as unknown;
      const put: RepositoryClient['putManifest'] = (ref, bytes, mediaType, signal) => {
        announce(isDigest(ref) ? { digest: ref } : { digest: digestLike('sha256:', bytes), tag: ref });
        return target.putManifest.call(receiver, ref, bytes, mediaType, signal);
      };
      return put;
    },
  });
}

/**
 * The client to push the attestation of `target.subject` with: announcing its writes to `own` when nothing hoist
 * records reads referrers in that repository, the plain client otherwise.
 */
export async function ownReferrerWrites(
  repo: RepositoryClient,
  target: ReferrerTarget,
  own: Pick<OwnPushes, 'rememberReferrer'>,
  /** Whether an artifact with the subject's digest lives in the repository (push-echo.query.ts). */
  readsReferrers: (target: ReferrerTarget) => Promise<boolean>,
): Promise<RepositoryClient> {
  if (await readsReferrers(target)) return repo;
  return announcingManifests(repo, (w) =>
    own.rememberReferrer({ registryId: target.registryId, repository: target.repository, ...w }),
  );
}
