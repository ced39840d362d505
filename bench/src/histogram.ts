/**
 * Latency histogram in microseconds, HDR-style: values below 2,048 µs land in buckets of exactly 1 µs,
 * larger ones in 1,024 buckets per power of two, so a reported percentile is within 0.1 % of the true
 * value (and never below it). Count, min, max and sum are exact. Histograms from several processes merge
 * by adding counts, which sorted arrays could not do without shipping every sample.
 */
const SUB_BITS = 11;
const SUB_COUNT = 1 << SUB_BITS;
const HALF_COUNT = SUB_COUNT >> 1;
/** Values are clamped to 2^31 - 1 µs (about 36 minutes): far past any drain window. */
const MAX_VALUE = 2 ** 31 - 1;
const BUCKETS = SUB_COUNT + (31 - SUB_BITS) * HALF_COUNT;

/** What crosses the IPC channel: non-empty buckets only. */
export interface HistogramSnapshot {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** [bucket index, count] pairs. */
  buckets: [number, number][];
}

function bucketOf(value: number): number {
  if (value < SUB_COUNT) return value;
  const shift = 32 - Math.clz32(value) - SUB_BITS;
  return SUB_COUNT + (shift - 1) * HALF_COUNT + ((value >>> shift) - HALF_COUNT);
}

/** Highest value that falls in a bucket (HDR's "highest equivalent value"). */
function bucketTop(index: number): number {
  if (index < SUB_COUNT) return index;
  const offset = index - SUB_COUNT;
  const shift = Math.floor(offset / HALF_COUNT) + 1;
  const mantissa = (offset % HALF_COUNT) + HALF_COUNT;
  return (mantissa + 1) * 2 ** shift - 1;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  /** Records one latency given in microseconds (rounded to the nearest µs, negatives as 0). */
  record(micros: number): void {
    const value = Math.min(MAX_VALUE, Math.max(0, Math.round(micros)));
    this.counts[bucketOf(value)]!++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Value (µs) at or below which `percent` % of the samples fall; 0 when empty. */
  percentile(percent: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketTop(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  add(other: HistogramSnapshot): void {
    for (const [index, n] of other.buckets) this.counts[index]! += n;
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }

  snapshot(): HistogramSnapshot {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { count: this.count, min: this.count > 0 ? this.min : 0, max: this.max, sum: this.sum, buckets };
  }

  static from(snapshots: readonly HistogramSnapshot[]): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (const snapshot of snapshots) histogram.add(snapshot);
    return histogram;
  }
}
