/**
 * Compare two environments, or two digests, of one application: "same digest" when they hold the same bytes;
 * otherwise what differs (tag, created, commit, labels, platforms, scan counts, SBOM components and licences added
 * or removed, signature). What is compared lives in the URL (?a=env:staging&b=env:prod, or digests), so a
 * comparison can be shared.
 */
import type { FormEvent, ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api } from '../api.ts';
import { usePollInterval } from '../live.ts';
import type { Artifact } from '../schemas.ts';
import { holders, mapChanges, setChange, signatures, type SetChange } from '../ui/artifact-facts.ts';
import { Digest, ErrorNote, Time } from '../ui/format.tsx';
import { useSearchParams } from '../ui/use-search-params.ts';
import { useProjectShape } from './artifact.tsx';

interface Side {
  /** What the URL says: env:NAME or a digest. */
  spec: string;
  label: string;
  artifact: Artifact | null;
  /** Why there is nothing to compare on this side. */
  missing: string | null;
}

function resolve(spec: string, all: Artifact[]): Side {
  if (spec.startsWith('env:')) {
    const env = spec.slice(4);
    const held = holders(all).get(env);
    const artifact = held ? (all.find((a) => a.digest === held.digest) ?? null) : null;
    return { spec, label: env, artifact, missing: artifact ? null : `${env} holds no build of this application yet` };
  }
  const artifact = all.find((a) => a.digest === spec) ?? null;
  return {
    spec,
    label: spec.slice(0, 19),
    artifact,
    missing: artifact ? null : `${spec} is not an artifact of this application`,
  };
}

export default function Compare({ project, app }: { project: string; app: string }) {
  const [params, setParams] = useSearchParams();
  const poll = usePollInterval(5000);
  const appPath = `/api/v1/projects/${encodeURIComponent(project)}/applications/${encodeURIComponent(app)}`;
  const all = useQuery({
    queryKey: ['artifacts', project, app, 'all'],
    queryFn: () => api<{ items: Artifact[] }>('GET', `${appPath}/artifacts?limit=1000`),
    refetchInterval: poll,
  });
  const shape = useProjectShape(project);
  const envNames = shape.ordered.map((e) => e.name);
  const aSpec = params.get('a') ?? (envNames[0] ? `env:${envNames[0]}` : '');
  const bSpec = params.get('b') ?? (envNames[1] ? `env:${envNames[1]}` : '');
  const items = all.data?.items ?? [];
  const a = resolve(aSpec, items);
  const b = resolve(bSpec, items);

  function choose(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setParams({ a: String(form.get('a') ?? ''), b: String(form.get('b') ?? '') });
  }

  const options = (
    <>
      <optgroup label="environments">
        {envNames.map((n) => (
          <option key={n} value={`env:${n}`}>
            {n}
          </option>
        ))}
      </optgroup>
      <optgroup label="digests">
        {items.map((x) => (
          <option key={x.digest} value={x.digest}>
            {x.digest.slice(0, 19)}
            {x.tag ? ` :${x.tag}` : ''}
          </option>
        ))}
      </optgroup>
    </>
  );

  return (
    <section>
      <p className="crumbs">
        <Link href={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / {app}
      </p>
      <h1>Compare {app}</h1>
      <form className="filters" onSubmit={choose} key={`${aSpec}|${bSpec}|${items.length}|${envNames.length}`}>
        <label>
          A
          <select name="a" defaultValue={aSpec}>
            {options}
          </select>
        </label>
        <label>
          B
          <select name="b" defaultValue={bSpec}>
            {options}
          </select>
        </label>
        <button type="submit">Compare</button>
      </form>
      {(all.error ?? shape.envs.error) && (
        <ErrorNote error={all.error ?? shape.envs.error} doing="load the artifacts to compare" />
      )}
      {all.data && (a.missing || b.missing) && (
        <ul className="reasons">
          {[a.missing, b.missing]
            .filter((m) => m !== null)
            .map((m) => (
              <li key={m}>{m}. Choose another environment or digest above.</li>
            ))}
        </ul>
      )}
      {a.artifact && b.artifact && <Differences a={a} b={b} project={project} app={app} />}
    </section>
  );
}

function Differences({ a, b, project, app }: { a: Side; b: Side; project: string; app: string }) {
  const x = a.artifact as Artifact;
  const y = b.artifact as Artifact;
  const link = (d: string) =>
    `/projects/${encodeURIComponent(project)}/apps/${encodeURIComponent(app)}/artifacts/${encodeURIComponent(d)}`;
  if (x.digest === y.digest)
    return (
      <p className="same" role="status">
        <span aria-hidden="true">✔ </span>
        <strong>Same digest</strong>: {a.label} and {b.label} hold <Digest value={x.digest} full />
        {x.tag ? ` (:${x.tag})` : ''}. Nothing differs.
      </p>
    );
  const rows: Array<{ what: string; a: ReactNode; b: ReactNode; differs: boolean }> = [
    {
      what: 'digest',
      a: <Link href={link(x.digest)}>{x.digest.slice(0, 19)}</Link>,
      b: <Link href={link(y.digest)}>{y.digest.slice(0, 19)}</Link>,
      differs: true,
    },
    { what: 'tag', a: x.tag ?? '—', b: y.tag ?? '—', differs: x.tag !== y.tag },
    {
      what: 'created',
      a: x.created ? <Time at={x.created} /> : 'unknown',
      b: y.created ? <Time at={y.created} /> : 'unknown',
      differs: x.created !== y.created,
    },
    {
      what: 'commit',
      a: <code>{x.build.commit ?? '—'}</code>,
      b: <code>{y.build.commit ?? '—'}</code>,
      differs: x.build.commit !== y.build.commit,
    },
    { what: 'branch', a: x.build.branch ?? '—', b: y.build.branch ?? '—', differs: x.build.branch !== y.build.branch },
    {
      what: 'platforms',
      a: x.platforms.join(', ') || '—',
      b: y.platforms.join(', ') || '—',
      differs: x.platforms.join() !== y.platforms.join(),
    },
    ...(['critical', 'high', 'medium', 'low'] as const).map((sev) => ({
      what: `scan: ${sev}`,
      a: x.scan ? String(x.scan[sev]) : 'no report',
      b: y.scan ? String(y.scan[sev]) : 'no report',
      differs: (x.scan?.[sev] ?? null) !== (y.scan?.[sev] ?? null),
    })),
    {
      what: 'signature',
      a: signatures(x) > 0 ? '✔ signed' : '✖ unsigned',
      b: signatures(y) > 0 ? '✔ signed' : '✖ unsigned',
      differs: signatures(x) > 0 !== signatures(y) > 0,
    },
  ];
  const labels = mapChanges(x.labels, y.labels);
  return (
    <>
      <p role="status">
        <span aria-hidden="true">≠ </span>
        <strong>Different digests</strong>: {a.label} holds <Digest value={x.digest} />, {b.label} holds{' '}
        <Digest value={y.digest} />.
      </p>
      <table className="compare">
        <thead>
          <tr>
            <th scope="col">what</th>
            <th scope="col">A: {a.label}</th>
            <th scope="col">B: {b.label}</th>
            <th scope="col">differs</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.what} className={r.differs ? 'differs' : undefined}>
              <th scope="row">{r.what}</th>
              <td>{r.a}</td>
              <td>{r.b}</td>
              <td>{r.differs ? '≠ yes' : '= no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Labels</h2>
      {labels.length === 0 ? (
        <p className="muted">Same labels.</p>
      ) : (
        <ul className="changes">
          {labels.map((c) => (
            <li key={c.key}>
              <code>{c.key}</code>:{' '}
              {c.a === undefined ? (
                <>
                  added <code>{c.b}</code>
                </>
              ) : c.b === undefined ? (
                <>
                  removed (was <code>{c.a}</code>)
                </>
              ) : (
                <>
                  <code>{c.a}</code> → <code>{c.b}</code>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <h2>SBOM</h2>
      {!x.sbom || !y.sbom ? (
        <p className="muted">
          {!x.sbom && !y.sbom
            ? 'Neither has an SBOM attached.'
            : `Only ${x.sbom ? a.label : b.label} has an SBOM attached.`}
        </p>
      ) : (
        <>
          <Changes title="Components" change={setChange(x.sbom.components, y.sbom.components)} />
          <Changes title="Licences" change={setChange(x.sbom.licenses, y.sbom.licenses)} />
        </>
      )}
    </>
  );
}

function Changes({ title, change }: { title: string; change: SetChange }) {
  return (
    <section aria-label={title}>
      <h3>{title}</h3>
      {change.added.length === 0 && change.removed.length === 0 ? (
        <p className="muted">No {title.toLowerCase()} added or removed.</p>
      ) : (
        <ul className="changes">
          {change.added.map((c) => (
            <li key={`+${c}`}>
              <span aria-hidden="true">+ </span>added <code>{c}</code>
            </li>
          ))}
          {change.removed.map((c) => (
            <li key={`-${c}`}>
              <span aria-hidden="true">− </span>removed <code>{c}</code>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
