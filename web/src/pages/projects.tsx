/** The projects the caller can see, each a link to its board. */
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import { useSignedIn } from '../session.tsx';

interface ProjectView {
  name: string;
  description: string;
}

export function Projects() {
  const me = useSignedIn();
  const projects = useQuery({
    queryKey: ['projects'],
    queryFn: () => api<{ items: ProjectView[] }>('GET', '/api/v1/projects?limit=1000'),
  });
  return (
    <section>
      <h1>Projects</h1>
      {projects.isPending && <p className="loading">Loading…</p>}
      {projects.isError && <p role="alert">Could not load projects: {projects.error.message}</p>}
      {projects.data && projects.data.items.length === 0 && (
        <p>
          No projects yet.{' '}
          {me.isAdmin
            ? 'Create one with hoist project create NAME, or hoist apply -f hoist.yaml.'
            : 'Ask an admin to add you to a project.'}
        </p>
      )}
      {projects.data && projects.data.items.length > 0 && (
        <ul className="cards">
          {projects.data.items.map((p) => (
            <li key={p.name}>
              <Link href={`/projects/${encodeURIComponent(p.name)}`}>{p.name}</Link>
              {p.description && <p>{p.description}</p>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
