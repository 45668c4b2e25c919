/**
 * The API's OpenAPI document as the server builds it from its route schemas, without listening and without a
 * database (a detached one satisfies the services' constructors). `npm run openapi` commits it.
 */
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../service/secret-box.ts';
import { detachedDatabase } from '../store/database.ts';
import { buildServer } from './server.ts';
import { createServices } from './services.ts';

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const database = detachedDatabase();
  try {
    const app = await buildServer(createServices(database, new SecretBox(randomBytes(32))));
    try {
      return app.swagger() as unknown as Record<string, unknown>;
    } finally {
      await app.close();
    }
  } finally {
    await database.close();
  }
}
