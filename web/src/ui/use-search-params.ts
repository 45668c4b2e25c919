/** Filters live in the URL's query string (so they survive a reload and can be shared): read and replace them. */
import { useLocation, useSearch } from 'wouter';

export function useSearchParams(): [URLSearchParams, (next: Record<string, string>) => void] {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const set = (next: Record<string, string>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== '') p.set(k, v);
    const q = p.toString();
    navigate(q ? `${location}?${q}` : location, { replace: true });
  };
  return [params, set];
}
