/** A project: its environments in pipeline order with their edges, and its applications. */
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';

interface EnvironmentView {
  name: string;
  position: number;
  kind: 'repository' | 'tag';
  registry: string;
  repository: string;
  tag: string | null;
  protected: boolean;
  soakSeconds: number;
}

export default function Project({ project }: { project: string }) {
  const base = `/api/v1/projects/${encodeURIComponent(project)}`;
  const envs = useQuery({
    queryKey: ['environments', project],
    queryFn: () => api<{ items: EnvironmentView[] }>('GET', `${base}/environments`),
  });
  const pipeline = useQuery({
    queryKey: ['pipeline', project],
    queryFn: () => api<{ edges: Array<{ from: string; to: string }> }>('GET', `${base}/pipeline`),
  });
  const apps = useQuery({
    queryKey: ['applications', project],
    queryFn: () => api<{ items: string[] }>('GET', `${base}/applications`),
  });
  const error = envs.error ?? pipeline.error ?? apps.error;
  return (
    <section>
      <h1>{project}</h1>
      <nav aria-label={`${project} pages`} className="subnav">
        <Link href={`/projects/${encodeURIComponent(project)}/history`}>History</Link>
        <Link href={`/projects/${encodeURIComponent(project)}/automation`}>Automation</Link>
        <Link href={`/projects/${encodeURIComponent(project)}/access`}>Members and webhooks</Link>
      </nav>
      {error && <p role="alert">Could not load the project: {error.message}</p>}
      <h2>Environments</h2>
      {envs.data && (
        <ol className="pipeline">
          {[...envs.data.items]
            .sort((a, b) => a.position - b.position)
            .map((e) => (
              <li key={e.name}>
                <strong>{e.name}</strong>
                {e.protected && <span className="tag"> protected</span>}
                <div className="muted">
                  <code>
                    {e.registry}/{e.repository}
                    {e.kind === 'tag' ? `:${e.tag ?? ''}` : ''}
                  </code>
                </div>
                {pipeline.data && (
                  <div className="muted">
                    promotes to{' '}
                    {pipeline.data.edges
                      .filter((x) => x.from === e.name)
                      .map((x) => x.to)
                      .join(', ') || 'nothing'}
                  </div>
                )}
              </li>
            ))}
        </ol>
      )}
      <h2>Applications</h2>
      {apps.data && apps.data.items.length === 0 && <p>No applications yet: hoist app add {project} NAME.</p>}
      {apps.data && (
        <ul>
          {apps.data.items.map((a) => (
            <li key={a}>{a}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
