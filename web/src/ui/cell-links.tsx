/**
 * The links a board cell offers beyond promoting: the held digest's journey (its artifact page) and a comparison
 * with the next environment of the pipeline. Plain anchors: the board follows them with one handler
 * (ui/follow-links.ts) rather than a router <Link> each.
 */
export function CellLinks(props: { project: string; app: string; environment: string; digest: string; next?: string }) {
  const app = `/projects/${encodeURIComponent(props.project)}/apps/${encodeURIComponent(props.app)}`;
  return (
    <div className="cell-links">
      <a href={`${app}/artifacts/${encodeURIComponent(props.digest)}`}>
        Journey
        <span className="visually-hidden">
          {' '}
          of {props.app} in {props.environment}
        </span>
      </a>
      {props.next !== undefined && (
        <a href={`${app}/compare?${new URLSearchParams({ a: `env:${props.environment}`, b: `env:${props.next}` })}`}>
          Compare with {props.next}
          <span className="visually-hidden"> ({props.app})</span>
        </a>
      )}
    </div>
  );
}
