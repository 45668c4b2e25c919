/**
 * One line for what holds a target back (a `blockedBy` entry), the same in the promote dialog and on the request page:
 * the server's own words (src/client/blocker-text.ts, which the CLI uses too), except that a closed window and a
 * soak time are a countdown ("opens in 3 h", "may leave in 12 min") with the UTC time on hover.
 */
import type { components } from '../../../src/client/openapi.ts';
import { blockerText } from '../../../src/client/blocker-text.ts';
import { Time } from './format.tsx';

type Blocker = components['schemas']['Blocker'];

export function BlockerLine({ blocker: b }: { blocker: Blocker }) {
  if (b.kind === 'window') {
    const windows = /windows \((.*?)\)(?:;|$)/.exec(b.message)?.[1];
    return (
      <>
        <span aria-hidden="true">⊘ </span>window closed{windows ? ` (${windows})` : ''}
        {b.opensAt ? (
          <>
            ; opens <Time at={b.opensAt} />
          </>
        ) : (
          '; none opens within a week'
        )}
        ; try then, or ask an admin to override
      </>
    );
  }
  if (b.kind === 'soak')
    return (
      <>
        <span aria-hidden="true">◷ </span>soaking in {b.environment}: may leave <Time at={b.until} />
      </>
    );
  return <>{blockerText(b)}</>;
}
