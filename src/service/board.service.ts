/**
 * The project board (GET /api/v1/projects/{project}/board): the facts loaded in one query
 * (src/store/board.query.ts), the cells planned purely (src/promotion/board.ts) at the services' clock, so soak and
 * window states agree with what promotion decisions see.
 *
 * Window states are kept for the minute they were worked out in: windows open and close on whole minutes, and
 * finding the next opening of a closed window walks the minutes ahead (about 6 ms for one closed over a weekend),
 * which would otherwise be paid per environment on every look at the board.
 */
import type { Kysely } from 'kysely';
import type { PromotionWindow } from '../automation/window.ts';
import { NotFound } from '../errors.ts';
import { planBoard, windowState, type Board, type WindowState } from '../promotion/board.ts';
import { loadBoardFacts } from '../store/board.query.ts';
import type { Schema } from '../store/schema.ts';
import { systemClock, type Clock } from './clock.ts';

export type { Board, BoardCell } from '../promotion/board.ts';

const MINUTE = 60_000;
const MAX_REMEMBERED = 256;

export class Boards {
  private readonly windows = new Map<string, WindowState>();

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly clock: Clock = systemClock,
  ) {}

  async get(project: string): Promise<Board> {
    const facts = await loadBoardFacts(this.db, project);
    if (!facts) throw new NotFound('project', project);
    return planBoard(facts, this.clock(), (w, now) => this.windowState(w, now));
  }

  private windowState(windows: readonly PromotionWindow[], now: Date): WindowState {
    if (windows.length === 0) return { open: true, opensAt: null, timeZone: null };
    const key = `${Math.floor(now.getTime() / MINUTE)} ${JSON.stringify(windows)}`;
    let state = this.windows.get(key);
    if (!state) {
      if (this.windows.size >= MAX_REMEMBERED) this.windows.clear();
      state = windowState(windows, now);
      this.windows.set(key, state);
    }
    return state;
  }
}
