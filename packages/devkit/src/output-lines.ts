import type { Readable } from 'node:stream';

/** The last lines a process wrote, for error messages. */
export interface OutputTail {
  /** The kept lines, oldest first, joined by newlines. */
  text(): string;
}

/**
 * Reads `streams` line by line (a partial line waits for its end), hands every line to `onLine` and keeps
 * the last `keep` non-blank ones. Reading also keeps the pipes drained, so a chatty child never blocks
 * on a full pipe.
 */
export function readLines(
  streams: readonly (Readable | null | undefined)[],
  keep: number,
  onLine?: (line: string) => void,
): OutputTail {
  const lines: string[] = [];
  for (const stream of streams) {
    if (!stream) continue;
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        onLine?.(line);
        if (line.trim() === '') continue;
        lines.push(line);
        if (lines.length > keep) lines.shift();
      }
    });
  }
  return { text: () => lines.join('\n') };
}
