/** Printing results as a table (the default on a terminal), JSON (the default in pipes) or YAML. */
import { InvalidInput } from '../errors.ts';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function outputFormat(flag: string | undefined): OutputFormat {
  const f = flag ?? (process.stdout.isTTY ? 'table' : 'json');
  if (f !== 'table' && f !== 'json' && f !== 'yaml')
    throw new InvalidInput(`"${f}" is not one of table, json, yaml`, '--output');
  return f;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map(cell).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export async function print(value: unknown, format: OutputFormat, columns?: string[]): Promise<void> {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  if (format === 'yaml') {
    const { stringify } = await import('yaml');
    process.stdout.write(stringify(value));
    return;
  }
  const rows = (Array.isArray(value) ? value : [value]) as Array<Record<string, unknown>>;
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cols = columns ?? Object.keys(rows[0] ?? {});
  const cells = [cols.map((c) => c.toUpperCase()), ...rows.map((r) => cols.map((c) => cell(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  process.stdout.write(
    cells
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n',
  );
}
