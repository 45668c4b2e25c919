/** Durations as people write them (`90s`, `30m`, `1h30m`, `2d`, or plain seconds) to whole seconds. */
import { InvalidInput } from '../errors.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

export function parseDuration(text: string, where: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const parts = [...t.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t)
    throw new InvalidInput(`"${text}" is not a duration (90s, 30m, 1h30m, 2d)`, where);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] as string] ?? 0), 0);
}
