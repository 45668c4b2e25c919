import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeWindow, isOpen, nextOpening, parseWindow, parseWindowSpec } from '../../src/automation/window.ts';

test('window specs parse days, ranges, times and zones; bad parts are named', () => {
  assert.deepEqual(parseWindowSpec('mon-fri 09:00-17:00 Europe/Berlin', 'w'), {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    start: '09:00',
    end: '17:00',
    timeZone: 'Europe/Berlin',
  });
  assert.deepEqual(parseWindowSpec('sat,sun 22:00-02:00 UTC', 'w').days, ['sat', 'sun']);
  assert.deepEqual(parseWindowSpec('fri-mon 10:00-11:00 UTC', 'w').days, ['mon', 'fri', 'sat', 'sun']);
  assert.equal(
    describeWindow(parseWindowSpec('mon-fri 09:00-17:00 Europe/Berlin', 'w')),
    'mon-fri 09:00-17:00 Europe/Berlin',
  );
  assert.throws(() => parseWindowSpec('weekdays 9-5', 'w'), /not DAYS HH:MM-HH:MM TIMEZONE/);
  assert.throws(
    () => parseWindowSpec('mon 09:00-17:00 Mars/Olympus', 'w'),
    /w\.timeZone: "Mars\/Olympus" is not a time zone/,
  );
  assert.throws(() => parseWindowSpec('mon 25:00-17:00 UTC', 'w'), /w\.start/);
  assert.throws(
    () => parseWindow({ days: ['funday'], start: '09:00', end: '10:00', timeZone: 'UTC' }, 'windows[0]'),
    /windows\[0\]\.days: "funday"/,
  );
  assert.throws(() => parseWindow(null, 'windows[1]'), /windows\[1\]/);
});

test('open and closed, in the window’s own time zone, over midnight, and across daylight saving', () => {
  const office = parseWindowSpec('mon-fri 09:00-17:00 Europe/Berlin', 'w');
  assert.equal(isOpen([], new Date()), true, 'no windows: always open');
  assert.equal(isOpen([office], new Date('2026-11-23T08:30:00Z')), true, 'Monday 09:30 in Berlin (UTC+1)');
  assert.equal(isOpen([office], new Date('2026-11-23T07:30:00Z')), false, 'Monday 08:30 in Berlin');
  assert.equal(isOpen([office], new Date('2026-11-22T12:00:00Z')), false, 'Sunday');
  assert.equal(isOpen([office], new Date('2026-07-06T07:30:00Z')), true, 'Monday 09:30 in Berlin summer time (UTC+2)');
  const night = parseWindowSpec('fri 22:00-02:00 UTC', 'w');
  assert.equal(isOpen([night], new Date('2026-11-27T23:00:00Z')), true, 'Friday 23:00');
  assert.equal(isOpen([night], new Date('2026-11-28T01:30:00Z')), true, 'Saturday 01:30 belongs to Friday’s window');
  assert.equal(isOpen([night], new Date('2026-11-28T02:00:00Z')), false);
  assert.equal(isOpen([night], new Date('2026-11-26T23:00:00Z')), false, 'Thursday');
  assert.deepEqual(
    nextOpening([office], new Date('2026-11-22T12:00:00Z')),
    new Date('2026-11-23T08:00:00Z'),
    'Monday 09:00 Berlin',
  );
  assert.deepEqual(
    nextOpening([office], new Date('2026-03-27T17:00:00Z')),
    new Date('2026-03-30T07:00:00Z'),
    'after the switch to summer time',
  );
  assert.equal(
    nextOpening([office], new Date('2026-11-23T08:30:00Z'))?.toISOString(),
    '2026-11-23T08:30:00.000Z',
    'open now',
  );
});
