/** Two selects, project then one of its applications, for screens that act on an application of any project. */
import { useQuery } from '@tanstack/react-query';
import { api } from '../api.ts';

export function ProjectAppPicker(props: {
  project: string;
  app: string;
  onProject: (project: string) => void;
  onApp: (app: string) => void;
}) {
  const projects = useQuery({
    queryKey: ['projects'],
    queryFn: () => api<{ items: Array<{ name: string }> }>('GET', '/api/v1/projects?limit=1000'),
  });
  const apps = useQuery({
    queryKey: ['applications', props.project],
    queryFn: () =>
      api<{ items: string[] }>('GET', `/api/v1/projects/${encodeURIComponent(props.project)}/applications`),
    enabled: props.project !== '',
  });
  return (
    <>
      <label>
        Project
        <select value={props.project} onChange={(e) => props.onProject(e.target.value)}>
          <option value="">choose…</option>
          {projects.data?.items.map((p) => (
            <option key={p.name}>{p.name}</option>
          ))}
        </select>
      </label>
      <label>
        Application
        <select value={props.app} onChange={(e) => props.onApp(e.target.value)} disabled={props.project === ''}>
          <option value="">choose…</option>
          {apps.data?.items.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
      </label>
    </>
  );
}
