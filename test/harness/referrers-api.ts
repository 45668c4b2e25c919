// A loopback proxy in front of a real `docker-registry` (distribution 2.8, which has no referrers API) that adds the
// OCI 1.1 referrers API, so hoist's referrers-API path can be tested against real storage: a fake, because no
// registry on these machines serves the API. It implements exactly what the distribution spec asks of a registry:
// - a manifest PUT whose body has a `subject` is forwarded, and on success answered with `OCI-Subject: <digest>`
//   (the header that tells a client the registry indexed it, so the client writes no fallback tag);
// - `GET /v2/<name>/referrers/<digest>` answers an OCI image index of the descriptors of every manifest in <name>
//   whose subject is <digest> (artifactType = the manifest's artifactType, else its config's mediaType; its
//   annotations), filtered by the `artifactType` query parameter when given (with `OCI-Filters-Applied:
//   artifactType`); 200 with an empty index for a digest nothing refers to.
// Everything else is passed through unchanged (Host kept, so Location headers point back here), bodies streamed.
// Every request is recorded, so a test can see that the API was read and that no `sha256-<hex>` tag was written.
import { createHash } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

export interface ReferrersApiProxy {
  host: string;
  url: string;
  requests: Array<{ method: string; path: string; status: number }>;
  stop(): Promise<void>;
}

interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export async function startReferrersApi(upstream: { host: string }): Promise<ReferrersApiProxy> {
  const [upHost, upPort] = upstream.host.split(':');
  const agent = new Agent({ keepAlive: true });
  // `${name}@${subject}` → referrer descriptors by digest
  const index = new Map<string, Map<string, Referrer>>();
  const requests: ReferrersApiProxy['requests'] = [];

  /** `after` sees the upstream's answer first and may add response headers. */
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    body?: Buffer,
    after?: (up: IncomingMessage) => Record<string, string>,
  ) => {
    const up = request(
      {
        host: upHost,
        port: Number(upPort),
        method: req.method,
        path: req.url,
        headers: body ? { ...req.headers, 'content-length': String(body.length) } : req.headers,
        agent,
      },
      (u) => {
        const headers = { ...u.headers, ...after?.(u) };
        requests.push({ method: req.method ?? '', path: req.url ?? '', status: u.statusCode ?? 0 });
        res.writeHead(u.statusCode ?? 502, headers);
        u.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    if (body) up.end(body);
    else req.pipe(up);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const referrers = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (req.method === 'GET' && referrers) {
      const [, name, subject] = referrers;
      const wanted = url.searchParams.get('artifactType');
      const all = [...(index.get(`${name}@${subject}`)?.values() ?? [])];
      const manifests = wanted === null ? all : all.filter((r) => r.artifactType === wanted);
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
      requests.push({ method: 'GET', path: req.url ?? '', status: 200 });
      res.writeHead(200, {
        'content-type': OCI_INDEX,
        'content-length': String(body.length),
        ...(wanted === null ? {} : { 'oci-filters-applied': 'artifactType' }),
      });
      res.end(body);
      return;
    }
    const put = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'PUT' && put) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let parsed: {
          mediaType?: string;
          artifactType?: string;
          config?: { mediaType?: string };
          subject?: { digest?: string };
          annotations?: Record<string, string>;
        } = {};
        try {
          parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
        } catch {
          /* not JSON: passed through as it is */
        }
        const subject = parsed.subject?.digest;
        forward(req, res, body, (u): Record<string, string> => {
          if (u.statusCode !== 201 || !subject) return {};
          const key = `${put[1]}@${subject}`;
          const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
          const entry: Referrer = {
            mediaType: parsed.mediaType ?? String(req.headers['content-type']),
            digest,
            size: body.length,
            ...((parsed.artifactType ?? parsed.config?.mediaType)
              ? { artifactType: parsed.artifactType ?? parsed.config?.mediaType }
              : {}),
            ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
          };
          const m = index.get(key) ?? new Map<string, Referrer>();
          m.set(digest, entry);
          index.set(key, m);
          return { 'oci-subject': subject };
        });
      });
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('referrers proxy: no port');
  const host = `127.0.0.1:${address.port}`;
  return {
    host,
    url: `http://${host}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
