/** The project board: every application × environment in one answer. Members read. */
import { Type } from '@fastify/type-provider-typebox';
import type { App, Services } from '../context.ts';
import { PROJECT_READ } from '../permissions.ts';
import { Board } from '../components/index.ts';
import { NameRef } from './fields.ts';
import { errors } from './schemas.ts';

export function boardRoutes(app: App, s: Services): void {
  app.get(
    '/api/v1/projects/:project/board',
    {
      config: { permission: PROJECT_READ },
      schema: {
        operationId: 'getBoard',
        summary:
          'Every application × environment (pipeline order): the digest held, since when, by whom and which request, track-latest or pinned, soak and window state, unfinished requests, and a newer build upstream',
        tags: ['projects'],
        params: Type.Object({ project: NameRef() }),
        response: { 200: Board, ...errors },
      },
    },
    async (req) => s.board.get(req.params.project),
  );
}
