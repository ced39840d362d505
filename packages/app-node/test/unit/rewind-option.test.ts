import { describe, expect, test } from 'vitest';
import { rewindSpecOf } from '../../src/rewind-option.js';

describe('rewind option', () => {
  test('rewind option - a count, a duration string, { ms }, or both limits become their wire form', () => {
    expect(rewindSpecOf(10)).toEqual({ count: 10 });
    expect(rewindSpecOf('30s')).toEqual({ ms: 30_000 });
    expect(rewindSpecOf('500ms')).toEqual({ ms: 500 });
    expect(rewindSpecOf('2m')).toEqual({ ms: 120_000 });
    expect(rewindSpecOf('1.5h')).toEqual({ ms: 5_400_000 });
    expect(rewindSpecOf({ ms: 250 })).toEqual({ ms: 250 });
    expect(rewindSpecOf({ count: 3, ms: 1_000 })).toEqual({ count: 3, ms: 1_000 });
  });

  test('rewind option - anything else is a TypeError that says what is wrong', () => {
    const cases: [unknown, string][] = [
      [0, 'count must be an integer from 1 to 1000, got 0'],
      [1_001, 'count must be an integer from 1 to 1000'],
      [2.5, 'count must be an integer'],
      ['30', '"30" is not a duration'],
      ['soon', '"soon" is not a duration'],
      [{}, 'needs count or ms'],
      [{ ms: 0 }, 'duration must be at least 1 ms'],
      [{ count: -1 }, 'count must be an integer'],
      [null, 'must be a count, a duration string, or { count?, ms? }'],
      [[5], 'must be a count, a duration string'],
    ];
    for (const [value, message] of cases) {
      expect(() => rewindSpecOf(value), JSON.stringify(value)).toThrow(TypeError);
      expect(() => rewindSpecOf(value), JSON.stringify(value)).toThrow(message);
    }
  });
});
