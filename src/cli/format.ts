/** Small formatting helpers for terminal output. */

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function shortDigest(digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return `${digest.slice(0, digest.indexOf(':'))}:${hex.slice(0, 12)}`;
}
