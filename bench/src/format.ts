import type { Knee } from './results.js';

/** A count or rate, rounded, with thousands separators. */
export const n = (value: number): string => Math.round(value).toLocaleString('en-US');

/** Milliseconds with three significant digits or so. */
export const ms = (value: number): string =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

/** A knee as the tables print it: "≥" when never passed, "†" when the generator was near saturation. */
export function kneeText(knee: Knee | null): string {
  if (!knee) return 'none (first step failed)';
  return `${knee.bounded ? '' : '≥ '}${n(knee.msgsPerSec)}${knee.failedGeneratorBusy ? ' †' : ''}`;
}
