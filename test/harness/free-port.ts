// Picks a loopback TCP port that is free right now, by listening on port 0 and closing again. Another process can
// take the port before our child binds it, so callers that hand the port to a child must detect "address already in
// use" and retry with a fresh port.
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('free-port: listening socket has no port');
  return address.port;
}
