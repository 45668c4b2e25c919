/**
 * The project board (GET /api/v1/projects/{project}/board): the facts loaded in one query
 * (src/store/board.query.ts), the cells planned purely (src/promotion/board.ts) at the services' clock, so soak and
 * window states agree with what promotion decisions see.
 */
import type { Kysely } from 'kysely';
import { NotFound } from '../errors.ts';
import { planBoard, type Board } from '../promotion/board.ts';
import { loadBoardFacts } from '../store/board.query.ts';
import type { Schema } from '../store/schema.ts';
import { systemClock, type Clock } from './clock.ts';

export type { Board, BoardCell } from '../promotion/board.ts';

export class Boards {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly clock: Clock = systemClock,
  ) {}

  async get(project: string): Promise<Board> {
    const facts = await loadBoardFacts(this.db, project);
    if (!facts) throw new NotFound('project', project);
    return planBoard(facts, this.clock());
  }
}
