import { prettyFactory } from 'pino-pretty';

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93];

/**
 * Writes the stack's lines to stdout, one per entry, each prefixed by its process's name: the processes'
 * JSON log lines made readable (unless `pretty` is off), other lines as they are.
 */
export function createLinePrinter(pretty: boolean): (name: string, line: string) => void {
  const tty = process.stdout.isTTY === true;
  const format = prettyFactory({ colorize: tty, singleLine: true, ignore: 'pid,hostname,name' });
  const colorOf = new Map<string, number>();
  return (name, line) => {
    // `app-node-1.3` is the third generation of app-node-1: one color for all of them.
    const base = name.replace(/\.\d+$/, '');
    if (!colorOf.has(base)) colorOf.set(base, COLORS[colorOf.size % COLORS.length]!);
    const label = name.padEnd(12);
    let text = line;
    if (pretty && line.startsWith('{')) {
      try {
        text = format(line).trimEnd();
      } catch {
        // Not a log entry after all: printed as it came.
      }
    }
    process.stdout.write(`${tty ? `\x1b[${colorOf.get(base)}m${label}\x1b[0m` : label} | ${text}\n`);
  };
}
