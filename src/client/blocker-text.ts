/**
 * What holds a target back (a request's `blockedBy`), in one line for a person: the web console's promote dialog and
 * the CLI's tables say it the same way.
 */
import type { components } from './openapi.ts';

type Blocker = components['schemas']['Blocker'];

export function blockerText(b: Blocker): string {
  if (b.kind === 'approvals')
    return `needs ${b.need - b.have} more approval${b.need - b.have === 1 ? '' : 's'} (${b.have}/${b.need})${
      b.eligible.length > 0 ? ` from ${b.eligible.join(', ')}` : '; nobody may give it yet'
    }`;
  if (b.kind === 'policy')
    return `${b.message}: ${b.conditions
      .filter((c) => c.result !== (c.kind === 'pass'))
      .map(
        (c) =>
          `${c.expression} (${Object.entries(c.values)
            .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
            .join(', ')})`,
      )
      .join('; ')}`;
  return b.message;
}
