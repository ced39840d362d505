import { MAX_REWIND, type RewindSpec } from '@iocluster/shared';

/**
 * How far back `socket.join(room, { rewind })` reaches: a count of messages (`10`), a duration
 * (`'30s'`, `'500ms'`, `'2m'`, `'1h'`, or `{ ms: 30000 }`), or both limits (`{ count: 10, ms: 30000 }`).
 */
export type RewindOption = number | `${number}${'ms' | 's' | 'm' | 'h'}` | { count?: number; ms?: number };

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** The wire form of a rewind option; throws a TypeError that says what is wrong. */
export function rewindSpecOf(value: unknown): RewindSpec {
  const fail = (why: string): never => {
    throw new TypeError(`socket.join(): rewind ${why}`);
  };
  const count = (n: unknown): number =>
    Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_REWIND
      ? (n as number)
      : fail(`count must be an integer from 1 to ${MAX_REWIND}, got ${String(n)}`);
  const ms = (n: unknown): number =>
    Number.isFinite(n) && (n as number) >= 1
      ? Math.round(n as number)
      : fail(`duration must be at least 1 ms, got ${String(n)}`);
  if (typeof value === 'number') return { count: count(value) };
  if (typeof value === 'string') {
    const match = DURATION_RE.exec(value.trim());
    if (!match) return fail(`"${value}" is not a duration like "30s", "500ms", "2m" or "1h"`);
    return { ms: ms(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]) };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = value as { count?: unknown; ms?: unknown };
    const spec: RewindSpec = {};
    if (v.count !== undefined) spec.count = count(v.count);
    if (v.ms !== undefined) spec.ms = ms(v.ms);
    if (spec.count === undefined && spec.ms === undefined) fail('needs count or ms');
    return spec;
  }
  return fail('must be a count, a duration string, or { count?, ms? }');
}
