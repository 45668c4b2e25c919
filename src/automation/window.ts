/**
 * Promotion windows: days and hours in a time zone when promotions may enter an environment ("mon-fri 09:00-17:00
 * Europe/Berlin"). A window whose end is before its start runs over midnight and belongs to the day it starts on
 * ("fri 22:00-02:00" is Friday 22:00 to Saturday 02:00); an end of 24:00 means midnight. Times are compared as the
 * wall clock in the window's zone shows them (Intl.DateTimeFormat), so daylight-saving changes are followed: a window
 * inside the skipped spring hour does not open that day, one inside the repeated autumn hour is open for both.
 */
import { InvalidInput } from '../errors.ts';

export type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const DAYS: readonly Day[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface PromotionWindow {
  /** Monday first, each once. */
  days: Day[];
  /** HH:MM */
  start: string;
  /** HH:MM, or 24:00; before start for a window over midnight */
  end: string;
  /** IANA time zone, e.g. Europe/Berlin */
  timeZone: string;
}

/** A window's start, HH:MM from 00:00 to 23:59 (regular-expression source, for API schemas). */
export const START_PATTERN = '^(?:[01][0-9]|2[0-3]):[0-5][0-9]$';
/** A window's end: a start, or 24:00 for midnight. */
export const END_PATTERN = '^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$';
const START = new RegExp(START_PATTERN);
const END = new RegExp(END_PATTERN);

/** How far ahead nextOpening looks. */
export const LOOKAHEAD_DAYS = 8;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY_MINUTES = 1440;
const FULL_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const MAX_FORMATTERS = 64;
const formatters = new Map<string, Intl.DateTimeFormat>();

type Obj = Record<string, unknown>;
const own = (o: Obj, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/** A bad value for a message, short and safe to build from anything. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** A formatter giving the full wall-clock date and time in a zone; throws RangeError for an unknown zone. */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Minutes the zone's clock is ahead of UTC at an instant (+60 for Berlin in winter). */
function offsetMinutes(timeZone: string, ms: number): number {
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const p of formatter(timeZone).formatToParts(ms)) parts[p.type] = Number(p.value);
  const { year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  const wall = Date.UTC(year, month - 1, day, hour % 24, minute, second);
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / MINUTE);
}

/** The zone's offset at any instant, asking Intl once per hour boundary; hours whose ends differ are asked per minute. */
function offsetLookup(timeZone: string): (ms: number) => number {
  const atHour = new Map<number, number>();
  const boundary = (h: number): number => {
    let off = atHour.get(h);
    if (off === undefined) atHour.set(h, (off = offsetMinutes(timeZone, h * HOUR)));
    return off;
  };
  return (ms) => {
    const h = Math.floor(ms / HOUR);
    const off = boundary(h);
    return off === boundary(h + 1) ? off : offsetMinutes(timeZone, ms);
  };
}

/** Weekday (0 = Monday) and minute of the day that a clock `offset` minutes ahead of UTC shows at an instant. */
function wallClock(ms: number, offset: number): { day: number; minute: number } {
  const wallMinutes = Math.floor(ms / MINUTE) + offset;
  const days = Math.floor(wallMinutes / DAY_MINUTES);
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  return { day: (((days + 3) % 7) + 7) % 7, minute: wallMinutes - days * DAY_MINUTES };
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** A window reduced to numbers, so checking a minute is arithmetic. */
interface Compiled {
  start: number;
  end: number;
  /** Indexed by weekday, 0 = Monday. */
  listed: boolean[];
  timeZone: string;
}

function compile(w: PromotionWindow): Compiled {
  return {
    start: minutesOf(w.start),
    end: minutesOf(w.end),
    listed: DAYS.map((d) => w.days.includes(d)),
    timeZone: w.timeZone,
  };
}

function openAt(w: Compiled, day: number, minute: number): boolean {
  if (w.start < w.end) return w.listed[day] === true && minute >= w.start && minute < w.end;
  // Over midnight: the evening on a listed day, or the early morning after one.
  return (w.listed[day] === true && minute >= w.start) || (w.listed[(day + 6) % 7] === true && minute < w.end);
}

function dayIndex(name: string, item: string, where: string): number {
  const n = name.trim().toLowerCase();
  const i = n.length === 3 ? DAYS.indexOf(n as Day) : FULL_NAMES.indexOf(n);
  if (i < 0)
    throw new InvalidInput(
      `${show(item)} is not a day or a range of days (mon, tue, wed, thu, fri, sat, sun; mon-fri)`,
      where,
    );
  return i;
}

/** `mon`, `monday` or a range `mon-fri` (`fri-mon` wraps over the weekend), as day indexes. */
function dayItem(item: unknown, where: string): number[] {
  if (typeof item !== 'string' || item.length > 40)
    throw new InvalidInput(`${show(item)} is not a day; days are names such as mon or ranges such as mon-fri`, where);
  const ends = item.split('-');
  if (ends.length > 2) throw new InvalidInput(`${show(item)} is not a day or a range of days (mon-fri)`, where);
  const from = dayIndex(ends[0] ?? '', item, where);
  const to = ends[1] === undefined ? from : dayIndex(ends[1], item, where);
  return Array.from({ length: ((to - from + 7) % 7) + 1 }, (_, k) => (from + k) % 7);
}

/** Days as a list or ranges: `mon-fri`, `sat,sun`, `mon,wed-fri`, `["mon", "wed-fri"]`. */
function parseDays(input: unknown, where: string): Day[] {
  const items = Array.isArray(input) ? input : typeof input === 'string' ? input.split(',') : undefined;
  if (!items || items.length === 0) throw new InvalidInput('name the days, e.g. "mon-fri" or ["mon", "tue"]', where);
  if (items.length > 14) throw new InvalidInput(`${items.length} day entries; a week has 7 days`, where);
  const listed = new Set<number>();
  for (const item of items) for (const i of dayItem(item, where)) listed.add(i);
  return DAYS.filter((_, i) => listed.has(i));
}

function timeOfDay(v: unknown, where: string, allowMidnightEnd: boolean): string {
  if (typeof v === 'string' && (allowMidnightEnd ? END : START).test(v)) return v;
  throw new InvalidInput(
    `${show(v)} is not a time of day (HH:MM, 00:00 to 23:59${allowMidnightEnd ? ', or 24:00' : ''})`,
    where,
  );
}

function timeZoneOf(v: unknown, where: string): string {
  if (typeof v === 'string' && v.length <= 64 && isTimeZone(v)) return v;
  throw new InvalidInput(`${show(v)} is not a time zone (an IANA name such as Europe/Berlin or UTC)`, where);
}

/** Checks a window from configuration or the API: `{days, start, end, timeZone}`; `where` prefixes the bad field. */
export function parseWindow(input: unknown, where: string): PromotionWindow {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidInput('a window is {days, start, end, timeZone}', where);
  const w = input as Obj;
  const days = parseDays(own(w, 'days'), `${where}.days`);
  const start = timeOfDay(own(w, 'start'), `${where}.start`, false);
  const end = timeOfDay(own(w, 'end'), `${where}.end`, true);
  if (minutesOf(start) === minutesOf(end))
    throw new InvalidInput(`${show(end)} is the start too; a window needs some length`, `${where}.end`);
  return { days, start, end, timeZone: timeZoneOf(own(w, 'timeZone'), `${where}.timeZone`) };
}

/** The CLI form `DAYS HH:MM-HH:MM TIMEZONE`: "mon-fri 09:00-17:00 Europe/Berlin", "sat,sun 10:00-12:00 UTC". */
export function parseWindowSpec(spec: string, where: string): PromotionWindow {
  const m = spec.length <= 200 ? /^\s*(\S+)\s+(\d\d:\d\d)-(\d\d:\d\d)\s+(\S+)\s*$/.exec(spec) : null;
  if (!m)
    throw new InvalidInput(
      `${show(spec)} is not DAYS HH:MM-HH:MM TIMEZONE (e.g. "mon-fri 09:00-17:00 Europe/Berlin")`,
      where,
    );
  return parseWindow({ days: m[1], start: m[2], end: m[3], timeZone: m[4] }, where);
}

/** No windows: always open. Otherwise open while any window is. */
export function isOpen(windows: readonly PromotionWindow[], now: Date): boolean {
  const ms = now.getTime();
  return (
    windows.length === 0 ||
    windows.map(compile).some((w) => {
      const { day, minute } = wallClock(ms, offsetMinutes(w.timeZone, ms));
      return openAt(w, day, minute);
    })
  );
}

/**
 * The first instant, to the minute, at which a window is open: `now` itself when one is open already (or there are
 * none), otherwise the whole minute a window opens; undefined if none opens within LOOKAHEAD_DAYS.
 */
export function nextOpening(windows: readonly PromotionWindow[], now: Date): Date | undefined {
  if (isOpen(windows, now)) return new Date(now.getTime());
  const byZone = new Map<string, (ms: number) => number>();
  const lookups = windows.map((w) => {
    let offset = byZone.get(w.timeZone);
    if (!offset) byZone.set(w.timeZone, (offset = offsetLookup(w.timeZone)));
    return { w: compile(w), offset };
  });
  const last = now.getTime() + LOOKAHEAD_DAYS * 24 * HOUR;
  for (let ms = Math.ceil(now.getTime() / MINUTE) * MINUTE; ms <= last; ms += MINUTE) {
    const open = lookups.some(({ w, offset }) => {
      const { day, minute } = wallClock(ms, offset(ms));
      return openAt(w, day, minute);
    });
    if (open) return new Date(ms);
  }
  return undefined;
}

/** Days as runs: three or more in a row as a range (`mon-fri`), shorter ones listed (`sat,sun`). */
function describeDays(days: readonly Day[]): string {
  const idx = [...new Set(days.map((d) => DAYS.indexOf(d)))].filter((i) => i >= 0).sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === (idx[j] ?? 0) + 1) j++;
    const run = idx.slice(i, j + 1).map((k) => DAYS[k] as Day);
    runs.push(run.length >= 3 ? `${run[0]}-${run[run.length - 1]}` : run.join(','));
    i = j + 1;
  }
  return runs.join(',');
}

/** The CLI form, which parseWindowSpec reads back: "mon-fri 09:00-17:00 Europe/Berlin". */
export function describeWindow(w: PromotionWindow): string {
  return `${describeDays(w.days)} ${w.start}-${w.end} ${w.timeZone}`;
}
