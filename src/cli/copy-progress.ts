/**
 * Shows a copy's progress. On a terminal: a bar per blob being streamed and one for the total, redrawn in place
 * (cli-progress). Elsewhere (CI logs, pipes): one quiet line per finished step. Both go to stderr, so `--json` on
 * stdout stays clean.
 */
import type { SingleBar } from 'cli-progress';
import type { CopyEvent, CopyListener } from '../copy/events.ts';
import { summarisePlan } from '../copy/plan.ts';
import { formatBytes, shortDigest } from './format.ts';

export interface ProgressDisplay {
  listener: CopyListener;
  stop(): void;
}

export function lineProgress(out: NodeJS.WritableStream = process.stderr): ProgressDisplay {
  const sizes = new Map<string, number>();
  const listener = (e: CopyEvent): void => {
    switch (e.kind) {
      case 'planned': {
        const s = summarisePlan(e.plan);
        out.write(
          `plan: ${s.stream} blobs to stream (${formatBytes(s.streamBytes)}), ${s.mount} to mount, ${s.skip} present, ${s.manifests} manifests\n`,
        );
        break;
      }
      case 'blob-start':
        sizes.set(e.digest, e.size);
        break;
      case 'blob-done':
        out.write(`${e.action} ${shortDigest(e.digest)} ${formatBytes(sizes.get(e.digest) ?? 0)}\n`);
        break;
      case 'blob-retry':
        out.write(`retrying ${shortDigest(e.digest)} (attempt ${e.attempt + 1}): ${e.error}\n`);
        break;
      case 'manifest-pushed':
        out.write(`pushed manifest ${shortDigest(e.digest)}\n`);
        break;
      case 'tagged':
        out.write(`tagged ${e.tag}\n`);
        break;
      case 'blob-bytes':
        break;
    }
  };
  return { listener, stop: () => {} };
}

export async function terminalProgress(): Promise<ProgressDisplay> {
  const { MultiBar, Presets } = (await import('cli-progress')).default;
  const bars = new MultiBar(
    {
      format: ' {name} |{bar}| {percentage}% {done}/{size} {speed}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      stream: process.stderr,
      fps: 10,
      barsize: 30,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let totalBytes = 0;
  let doneBytes = 0;
  const total = bars.create(1, 0, { name: 'total       ', done: '0 B', size: '0 B', speed: '' });
  const perBlob = new Map<string, { bar: SingleBar; size: number; done: number }>();
  const speed = (): string => `${formatBytes(doneBytes / Math.max(0.001, (Date.now() - started) / 1000))}/s`;
  const updateTotal = (): void =>
    total.update(doneBytes, { done: formatBytes(doneBytes), size: formatBytes(totalBytes), speed: speed() });
  const listener = (e: CopyEvent): void => {
    switch (e.kind) {
      case 'planned': {
        totalBytes = summarisePlan(e.plan).streamBytes;
        total.setTotal(Math.max(1, totalBytes));
        updateTotal();
        break;
      }
      case 'blob-start':
        if (e.action === 'stream') {
          perBlob.set(e.digest, {
            bar: bars.create(Math.max(1, e.size), 0, {
              name: shortDigest(e.digest),
              done: '0 B',
              size: formatBytes(e.size),
              speed: '',
            }),
            size: e.size,
            done: 0,
          });
        }
        break;
      case 'blob-bytes': {
        const b = perBlob.get(e.digest);
        doneBytes += e.bytes;
        if (b) {
          b.done += e.bytes;
          b.bar.update(b.done, { done: formatBytes(b.done) });
        }
        updateTotal();
        break;
      }
      case 'blob-done': {
        const b = perBlob.get(e.digest);
        if (b) {
          bars.remove(b.bar);
          perBlob.delete(e.digest);
        }
        break;
      }
      case 'blob-retry':
        bars.log(`retrying ${shortDigest(e.digest)}: ${e.error}\n`);
        break;
      case 'manifest-pushed':
      case 'tagged':
        break;
    }
  };
  return { listener, stop: () => bars.stop() };
}
