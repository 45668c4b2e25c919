/**
 * The one way hoist reads YAML (`hoist apply -f`, `hoist rule create -f`, `hoist policy apply -f`, and the files a
 * GitOps write-back edits): bounded before any work grows with the input. A file over MAX_YAML_BYTES is refused
 * before it is read; a document with more than MAX_YAML_ALIASES aliases (`*name`), or whose aliases would stand for
 * more than MAX_YAML_ALIAS_NODES nodes once expanded, is refused after parsing and before any alias is expanded: a
 * "billion laughs" document is a few lines of nested anchors that expand to gigabytes. Errors name the file and the
 * limit.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  isAlias,
  isCollection,
  isPair,
  LineCounter,
  parseAllDocuments,
  parseDocument,
  visit,
  type Alias,
  type Document,
  type DocumentOptions,
  type ParseOptions,
} from 'yaml';
import { InvalidInput } from '../errors.ts';

/** A hand-written file: 4 MiB is thousands of projects. A 60 MB file took 2.2 GB to parse. */
export const MAX_YAML_BYTES = 4 * 1024 * 1024;
/** Aliases (`*anchor`) a document may use. */
export const MAX_YAML_ALIASES = 100;
/** Nodes all aliases of a document may stand for once expanded (an alias of an alias counts what that one expands to). */
export const MAX_YAML_ALIAS_NODES = 10_000;

const MIB = MAX_YAML_BYTES / 1024 / 1024;

export interface YamlProblem {
  line: number;
  col: number;
  message: string;
  /** Over a limit (size or aliases), rather than not YAML. */
  limit?: true;
}

export type YamlParsed<D> = { ok: true; value: D; lineCounter: LineCounter } | { ok: false; problem: YamlProblem };

type Options = ParseOptions & DocumentOptions;

const tooLarge = (bytes: number): string | undefined =>
  bytes > MAX_YAML_BYTES ? `is larger than the limit of ${MIB} MiB for a YAML file` : undefined;

/** The text of a YAML file, refused before it is read when it is over MAX_YAML_BYTES. `flag` names the option. */
export function readYamlFile(file: string, flag: string): string {
  const unreadable = (e: unknown) =>
    new InvalidInput(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, flag);
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw unreadable(e);
  }
  const big = tooLarge(size);
  if (big !== undefined) throw new InvalidInput(`${file} ${big} (${size.toLocaleString('en')} bytes)`, flag);
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw unreadable(e);
  }
}

/** What the aliases of `docs` stand for: how many there are, and how many nodes they expand to, counted without expanding. */
function aliasProblem(docs: Document.Parsed[], lc: LineCounter): YamlProblem | undefined {
  const aliases: Alias[] = [];
  const targets = new Map<Alias, unknown>();
  for (const doc of docs) {
    // An alias names the last node before it with that anchor: the document's order is the visit's order.
    const anchored = new Map<string, unknown>();
    visit(doc, {
      Node(_, node) {
        if (isAlias(node)) {
          aliases.push(node);
          targets.set(node, anchored.get(node.source));
        } else if (node.anchor) anchored.set(node.anchor, node);
      },
    });
  }
  const at = (a: Alias | undefined): Pick<YamlProblem, 'line' | 'col'> => {
    const { line, col } = lc.linePos(a?.range?.[0] ?? 0);
    return { line, col };
  };
  if (aliases.length > MAX_YAML_ALIASES)
    return {
      ...at(aliases[MAX_YAML_ALIASES]),
      limit: true,
      message: `${aliases.length.toLocaleString('en')} aliases (*name) are over the limit of ${MAX_YAML_ALIASES} (refused before expanding them)`,
    };
  // Nodes a node stands for once expanded, memoized per node; a node that contains an alias of itself is endless.
  const memo = new Map<unknown, number>();
  const size = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node);
      return target === undefined ? 1 : size(target);
    }
    if (isPair(node)) return size(node.key) + size(node.value);
    if (!isCollection(node)) return 1;
    const known = memo.get(node);
    if (known !== undefined) return known;
    memo.set(node, Infinity);
    let n = 1;
    for (const item of node.items as unknown[]) n += size(item);
    memo.set(node, n);
    return n;
  };
  let expanded = 0;
  for (const a of aliases) {
    expanded += size(targets.get(a));
    if (expanded > MAX_YAML_ALIAS_NODES)
      return {
        ...at(a),
        limit: true,
        message:
          `the aliases (*name) would expand to more than ${MAX_YAML_ALIAS_NODES.toLocaleString('en')} nodes ` +
          '(refused before expanding them)',
      };
  }
  return undefined;
}

function bounded<D>(text: string, parse: (lc: LineCounter) => D, docsOf: (d: D) => Document.Parsed[]): YamlParsed<D> {
  const big = tooLarge(Buffer.byteLength(text));
  if (big !== undefined) return { ok: false, problem: { line: 1, col: 1, message: `the file ${big}`, limit: true } };
  const lineCounter = new LineCounter();
  const value = parse(lineCounter);
  const docs = docsOf(value);
  for (const doc of docs) {
    const e = doc.errors[0];
    if (e !== undefined) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { ok: false, problem: { line, col, message: e.message.split('\n')[0] ?? e.message } };
    }
  }
  const aliases = aliasProblem(docs, lineCounter);
  return aliases === undefined ? { ok: true, value, lineCounter } : { ok: false, problem: aliases };
}

/** One YAML document, parsed (never expanded) within the size and alias limits, or the first problem with its position. */
export function parseYamlDocument(text: string, options: Options = {}): YamlParsed<Document.Parsed> {
  return bounded(
    text,
    (lineCounter) => parseDocument(text, { ...options, lineCounter, prettyErrors: false }),
    (d) => [d],
  );
}

/** Every document of a YAML stream (`---` between them), within the same limits. */
export function parseYamlDocuments(text: string, options: Options = {}): YamlParsed<Document.Parsed[]> {
  return bounded(
    text,
    (lineCounter) => {
      const docs = parseAllDocuments(text, { ...options, lineCounter, prettyErrors: false });
      return Array.isArray(docs) ? docs : [];
    },
    (d) => d,
  );
}

/** A YAML file's one document as plain data, within the limits; a problem is an InvalidInput naming file:line:col. */
export function loadYamlFile(file: string, flag: string): unknown {
  const parsed = parseYamlDocument(readYamlFile(file, flag));
  if (!parsed.ok) {
    const { line, col, message } = parsed.problem;
    throw new InvalidInput(`${file}:${line}:${col}: ${message}`, flag);
  }
  // Within MAX_YAML_ALIAS_NODES, expanding is bounded; the library's own count is not needed again.
  return parsed.value.toJS({ maxAliasCount: -1 });
}
