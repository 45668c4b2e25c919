/**
 * hoist's own pushes, recognised when the registry reports them back. Every promotion writes its digest and its tag
 * into the target repository, and a registry with notifications answers each write with a push event. Worked like any
 * other event, such an echo costs a confirmation from the registry, a read of the image, a transaction and a run of
 * the automation, to learn nothing: the runner records the promotion and runs the automation itself.
 *
 * So the runner says what it is about to write (`remember`, before the write, with a short time to live), and the
 * intake asks `echo()` before any registry round trip: an event is an echo when every environment that holds the
 * pushed repository (and tag) already holds the artifact with that digest under that tag, counting the promotion's
 * own target environment as held when this process is writing it now (the echo may arrive before the runner commits).
 * Another replica's promotion is recognised from the database alone once it is committed (a PROMOTED target put
 * the artifact there), and only for a minute. A push that repeats what a person or CI pushed before, an old image
 * pushed again, goes the normal way. Anything else — an environment of another application that holds
 * the repository too, a tag the artifact was never seen with — is not an echo, and the event is worked in full.
 */
import { tagMatches, templateMatches } from './artifacts.service.ts';
import type { DigestHolding } from '../store/push-echo.query.ts';

/** How long a write of this process is expected back as an event. */
const OWN_WRITE_TTL_MS = 60_000;
/** How recent a promotion must be for an event that repeats it to count as its echo (`recentSince`). */
export const RECENT_MS = 60_000;

export interface PushedImage {
  registryId: string;
  repository: string;
  digest: string;
  tag?: string | undefined;
}

const keyOf = (p: PushedImage): string => `${p.registryId}\u0000${p.repository}\u0000${p.digest}\u0000${p.tag ?? ''}`;

/** Whether an environment is the only one holding a pushed image (src/events/sole-holder.ts). */
export type SoleHolder = (p: PushedImage, environmentId: string) => Promise<boolean>;

interface OwnWrite {
  environmentId: string;
  until: number;
  /** Known once asked (while the write is under way): no other environment holds what is written. */
  sole?: boolean;
}

export class OwnPushes {
  /** Key → the environment being written and when the memory lapses. */
  private readonly writes = new Map<string, OwnWrite>();
  /** Key → when the memory of a referrer write (the attestor's, src/events/referrer-writes.ts) lapses. */
  private readonly referrerWrites = new Map<string, number>();
  /** Asked, for every write remembered, whether its environment is the only holder (set by the intake). */
  soleHolder: SoleHolder | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The runner is about to write this digest (and tag) into an environment's repository. Said again of a write
   * remembered already, the memory is kept longer (what was learnt of it is kept).
   */
  remember(p: PushedImage, environmentId: string): void {
    const now = this.now();
    const known = this.writes.get(keyOf(p));
    if (known && known.until > now && known.environmentId === environmentId) {
      known.until = now + OWN_WRITE_TTL_MS;
      return;
    }
    if (this.writes.size > 10_000) for (const [k, w] of this.writes) if (w.until <= now) this.writes.delete(k);
    const write: OwnWrite = { environmentId, until: now + OWN_WRITE_TTL_MS };
    this.writes.set(keyOf(p), write);
    // Asked now, while the bytes are on their way: the hook that reports them back can then answer at once.
    this.soleHolder?.(p, environmentId).then(
      (sole) => (write.sole = sole),
      () => undefined,
    );
  }

  /**
   * Whether the event certainly reports this process's own write, without asking the database: the write is under
   * way and no environment but its own holds the pushed repository (and tag). The intake never asks it about a
   * referrers tag.
   */
  knownEcho(p: PushedImage): boolean {
    const w = this.writes.get(keyOf(p));
    return w !== undefined && w.until > this.now() && w.sole === true;
  }

  /**
   * The attestor is about to write this manifest (by digest, or the fallback index by its tag and digest), a referrer
   * that nothing hoist records reads in that repository (src/events/referrer-writes.ts).
   */
  rememberReferrer(p: PushedImage): void {
    const now = this.now();
    if (this.referrerWrites.size > 10_000)
      for (const [k, until] of this.referrerWrites) if (until <= now) this.referrerWrites.delete(k);
    this.referrerWrites.set(keyOf(p), now + OWN_WRITE_TTL_MS);
  }

  /** Whether the event reports exactly a referrer write remembered (same registry, repository, digest and tag). */
  knownReferrer(p: PushedImage): boolean {
    return (this.referrerWrites.get(keyOf(p)) ?? 0) > this.now();
  }

  /** The environment this process is writing the pushed image into, if it is. */
  writing(p: PushedImage): string | undefined {
    const w = this.writes.get(keyOf(p));
    return w && w.until > this.now() ? w.environmentId : undefined;
  }

  /**
   * Whether an event brings nothing that hoist has not recorded (see the module's comment), from what the database
   * holds for its digest in the registry (src/store/push-echo.query.ts).
   */
  echo(p: PushedImage, holdings: readonly DigestHolding[]): boolean {
    const own = this.writing(p);
    const holding = holdings.filter(
      (h) =>
        templateMatches(h.repositoryTemplate, h.app, p.repository) &&
        (h.kind === 'repository' ||
          (p.tag !== undefined && h.tagTemplate !== null && tagMatches(h.tagTemplate, h.app, p.tag))),
    );
    if (holding.length === 0) return false;
    return holding.every((h) => {
      if (h.environmentId === own) return true;
      if (h.artifactId === null || h.since === null) return false;
      if (p.tag !== undefined && (h.locationTag !== p.tag || !h.tagKnown)) return false;
      return own !== undefined || h.promotedRecently;
    });
  }
}
