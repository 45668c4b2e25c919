/**
 * Where a promoted digest goes in a deployment file, as a pure edit plan: the `yaml` package's Document API finds the
 * nodes (a kustomization's `images:` entry, a Helm values key, every `image:` field naming the repository), and the
 * edit splices new text into the original at those nodes' source ranges. Nothing is re-serialized, so comments, key
 * order, quoting, indentation and blank lines stay byte for byte as they were; only the image fields change. An edit
 * that changes nothing (the file already names the digest) says so, which is what makes a retried write-back
 * idempotent. Errors point at line and column.
 */
import {
  isMap,
  isScalar,
  isSeq,
  visit,
  type LineCounter,
  type Document,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { parseYamlDocument, parseYamlDocuments, type YamlProblem } from '../config/yaml-input.ts';

/** What to update in the file(s) at the target's path. */
export type EditSpec =
  | { kind: 'kustomize'; image: string; newName?: string | undefined; digest: string }
  | { kind: 'helm'; key: string; digest: string }
  | { kind: 'manifests'; image: string; digest: string };

export interface EditChange {
  line: number;
  field: string;
  from: string | null;
  to: string;
}

export type EditResult =
  { ok: true; text: string; changes: EditChange[] } | { ok: false; error: string; line?: number; column?: number };

interface Splice {
  at: number;
  end: number;
  text: string;
  change: EditChange;
}

const refused = (error: string, lines?: LineCounter, offset?: number): EditResult => {
  if (lines === undefined || offset === undefined) return { ok: false, error };
  const { line, col } = lines.linePos(offset);
  return { ok: false, error: `${error} (line ${line}, column ${col})`, line, column: col };
};

function applySplices(text: string, splices: Splice[]): EditResult {
  const sorted = [...splices].sort((a, b) => b.at - a.at);
  let out = text;
  for (const s of sorted) out = out.slice(0, s.at) + s.text + out.slice(s.end);
  return { ok: true, text: out, changes: [...splices].sort((a, b) => a.at - b.at).map((s) => s.change) };
}

/** The value rewritten in place, keeping its quoting. Block scalars are refused by the caller. */
function replaceScalar(node: Scalar, value: string, field: string, lines: LineCounter): Splice | undefined {
  if (node.value === value) return undefined;
  const [start, end] = node.range ?? [0, 0];
  const quote = node.type === 'QUOTE_DOUBLE' ? '"' : node.type === 'QUOTE_SINGLE' ? "'" : '';
  return {
    at: start,
    end,
    text: `${quote}${value}${quote}`,
    change: {
      line: lines.linePos(start).line,
      field,
      from: node.value === null ? null : String(node.value as unknown),
      to: value,
    },
  };
}

const isBlockScalar = (n: unknown): boolean => isScalar(n) && (n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED');

/** The end of the last line with content at or before `pos` (where a new line may be inserted after it). */
function endOfContent(text: string, pos: number): number {
  let p = Math.min(pos, text.length);
  while (p > 0 && /\s/.test(text[p - 1] ?? '')) p--;
  const nl = text.indexOf('\n', p);
  return nl === -1 ? text.length : nl;
}

/** The column of a node (its indentation when it starts a line). */
const columnOf = (text: string, offset: number): number => offset - (text.lastIndexOf('\n', offset - 1) + 1);

/** Adds `key: value` lines at the end of a block map (after its last pair, with its indentation). */
function appendToMap(
  text: string,
  map: YAMLMap,
  lines: string[],
  change: EditChange,
  lc: LineCounter,
): Splice | EditResult {
  const first = map.items[0];
  const last = map.items[map.items.length - 1];
  if (map.flow || !first || !last)
    return refused(`cannot add ${change.field} to a flow or empty mapping`, lc, map.range?.[0]);
  const keyStart = (first.key as Node | null)?.range?.[0] ?? map.range?.[0] ?? 0;
  const indent = ' '.repeat(columnOf(text, keyStart));
  const lastEnd = (last.value as Node | null)?.range?.[1] ?? (last.key as Node | null)?.range?.[1] ?? keyStart;
  const at = endOfContent(text, lastEnd);
  return {
    at,
    end: at,
    text: lines.map((l) => `\n${indent}${l}`).join(''),
    change: { ...change, line: lc.linePos(at).line + 1 },
  };
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key);
}

/** A problem of the bounded parse (yaml-input.ts: size, syntax, aliases), with where it is. */
function unreadable(p: YamlProblem): EditResult {
  return {
    ok: false,
    error: `${p.limit ? '' : 'not valid YAML: '}${p.message} (line ${p.line}, column ${p.col})`,
    line: p.line,
    column: p.col,
  };
}

function parsed(text: string): { doc: Document.Parsed; lines: LineCounter } | EditResult {
  const r = parseYamlDocument(text, { keepSourceTokens: true, uniqueKeys: false });
  return r.ok ? { doc: r.value, lines: r.lineCounter } : unreadable(r.problem);
}

const isResult = (x: unknown): x is EditResult => typeof x === 'object' && x !== null && 'ok' in x;

/** A kustomization: the `images:` entry named `image` gets `digest` (and `newName` when given). */
function editKustomize(text: string, spec: Extract<EditSpec, { kind: 'kustomize' }>): EditResult {
  const p = parsed(text);
  if (isResult(p)) return p;
  const { doc, lines } = p;
  const root = doc.contents;
  const fields: Array<[string, string]> = [
    ...(spec.newName !== undefined ? ([['newName', spec.newName]] as Array<[string, string]>) : []),
    ['digest', spec.digest],
  ];
  const entryLines = [`- name: ${spec.image}`, ...fields.map(([k, v]) => `  ${k}: ${v}`)];
  if (root === null || (isScalar(root) && root.value === null)) {
    const prefix = text.length === 0 || text.endsWith('\n') ? '' : '\n';
    return applySplices(text, [
      {
        at: text.length,
        end: text.length,
        text: `${prefix}images:\n${entryLines.join('\n')}\n`,
        change: { line: lines.linePos(text.length).line, field: 'images', from: null, to: spec.digest },
      },
    ]);
  }
  if (!isMap(root)) return refused('a kustomization must be a mapping', lines, root.range?.[0]);
  const images = pairOf(root, 'images');
  if (!images) {
    const added = appendToMap(text, root, ['images:', ...entryLines], mk('images', spec.digest), lines);
    return isResult(added) ? added : applySplices(text, [added]);
  }
  const seq = images.value;
  if (!isSeq(seq)) return refused('images: must be a list', lines, (images.key as Node).range?.[0]);
  const entry = seq.items.find(
    (i) =>
      isMap(i) &&
      isScalar(pairOf(i, 'name')?.value) &&
      pairOf(i, 'name')?.value &&
      (pairOf(i, 'name')?.value as Scalar).value === spec.image,
  );
  if (!entry) {
    if (seq.flow || seq.items.length === 0)
      return refused(
        `images: has no entry named ${spec.image}, and hoist adds entries only to a block list`,
        lines,
        seq.range?.[0],
      );
    const firstItem = seq.items[0] as Node;
    const dashAt = text.lastIndexOf('-', firstItem.range?.[0] ?? 0);
    const indent = ' '.repeat(columnOf(text, dashAt));
    const at = endOfContent(text, seq.range?.[1] ?? text.length);
    return applySplices(text, [
      {
        at,
        end: at,
        text: entryLines.map((l) => `\n${indent}${l}`).join(''),
        change: { line: lines.linePos(at).line + 1, field: `images[${spec.image}]`, from: null, to: spec.digest },
      },
    ]);
  }
  const map = entry as YAMLMap;
  const splices: Splice[] = [];
  const missing: string[] = [];
  for (const [key, value] of fields) {
    const pair = pairOf(map, key);
    if (pair && isScalar(pair.value) && !isBlockScalar(pair.value)) {
      const s = replaceScalar(pair.value, value, `images[${spec.image}].${key}`, lines);
      if (s) splices.push(s);
    } else if (pair)
      return refused(`images[${spec.image}].${key} must be a plain value`, lines, (pair.key as Node).range?.[0]);
    else missing.push(`${key}: ${value}`);
  }
  if (missing.length > 0) {
    const added = appendToMap(text, map, missing, mk(`images[${spec.image}]`, spec.digest), lines);
    if (isResult(added)) return added;
    splices.push(added);
  }
  return applySplices(text, splices);
}

const mk = (field: string, to: string): EditChange => ({ line: 0, field, from: null, to });

/** A Helm values file: the dotted `key` (e.g. image.digest) set to the digest; missing mappings are added. */
function editHelm(text: string, spec: Extract<EditSpec, { kind: 'helm' }>): EditResult {
  const p = parsed(text);
  if (isResult(p)) return p;
  const { doc, lines } = p;
  const path = spec.key.split('.');
  if (path.some((k) => k === '')) return refused(`"${spec.key}" is not a dotted key (e.g. image.digest)`);
  const block = (from: number, indent: string): string =>
    path
      .slice(from)
      .map((k, i, all) => `${indent}${'  '.repeat(i)}${k}:${i === all.length - 1 ? ` ${spec.digest}` : ''}`)
      .join('\n');
  let node: unknown = doc.contents;
  if (node === null || (isScalar(node) && node.value === null)) {
    const prefix = text.length === 0 || text.endsWith('\n') ? '' : '\n';
    return applySplices(text, [
      {
        at: text.length,
        end: text.length,
        text: `${prefix}${block(0, '')}\n`,
        change: { line: lines.linePos(text.length).line, field: spec.key, from: null, to: spec.digest },
      },
    ]);
  }
  for (let i = 0; i < path.length; i++) {
    if (!isMap(node))
      return refused(`${path.slice(0, i).join('.')} is not a mapping`, lines, (node as Node).range?.[0]);
    const pair = pairOf(node, path[i] as string);
    if (!pair) {
      const added = appendToMap(
        text,
        node,
        block(i, '').split('\n'),
        { line: 0, field: spec.key, from: null, to: spec.digest },
        lines,
      );
      return isResult(added) ? added : applySplices(text, [added]);
    }
    if (i === path.length - 1) {
      if (!isScalar(pair.value) || isBlockScalar(pair.value))
        return refused(`${spec.key} must be a plain value`, lines, (pair.key as Node).range?.[0]);
      const s = replaceScalar(pair.value, spec.digest, spec.key, lines);
      return applySplices(text, s ? [s] : []);
    }
    node = pair.value;
  }
  return refused('unreachable');
}

/** The name part of an image reference: without `@digest` and without a `:tag` after the last `/`. */
export function imageName(reference: string): string {
  const noDigest = reference.split('@')[0] ?? '';
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Plain manifests (one or more documents): every `image:` field whose name is `image` becomes image@digest. */
function editManifests(text: string, spec: Extract<EditSpec, { kind: 'manifests' }>): EditResult {
  const r = parseYamlDocuments(text, { keepSourceTokens: true, uniqueKeys: false });
  if (!r.ok) return unreadable(r.problem);
  const { value: docs, lineCounter: lines } = r;
  const splices: Splice[] = [];
  const to = `${spec.image}@${spec.digest}`;
  for (const doc of docs) {
    visit(doc, {
      Pair(_, pair) {
        if (!isScalar(pair.key) || pair.key.value !== 'image' || !isScalar(pair.value)) return;
        const value = pair.value.value;
        if (typeof value !== 'string' || isBlockScalar(pair.value) || imageName(value) !== spec.image) return;
        const s = replaceScalar(pair.value, to, 'image', lines);
        if (s) splices.push(s);
      },
    });
  }
  return applySplices(text, splices);
}

/** Plans the edit of one file's text. */
export function editFile(text: string, spec: EditSpec): EditResult {
  switch (spec.kind) {
    case 'kustomize':
      return editKustomize(text, spec);
    case 'helm':
      return editHelm(text, spec);
    case 'manifests':
      return editManifests(text, spec);
  }
}
