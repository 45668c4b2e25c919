/** Medians and ratios for benchmark runs. */

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}
