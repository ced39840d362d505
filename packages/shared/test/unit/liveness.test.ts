import { describe, expect, test } from 'vitest';
import {
  judgeLiveness,
  type LivenessEntry,
  type LivenessView,
  NO_LIVENESS_VIEW,
} from '../../src/liveness.js';

const SETTINGS = { heartbeatIntervalMs: 1_000, retentionMs: 10_000 };
const TTL_MS = 3_000;

/**
 * A fake cluster on a fake clock: nodes write records (expiry = write time + TTL) while they beat, and
 * one reader judges them every half interval, as an io-node's watcher does.
 */
function fakeCluster() {
  let now = 100_000;
  const records = new Map<string, { expiresAt: number; listed: boolean }>();
  const beating = new Map<string, boolean>();
  let view: LivenessView = NO_LIVENESS_VIEW;
  const log: string[] = [];
  const entries = (): LivenessEntry[] =>
    [...records].sort(([a], [b]) => (a < b ? -1 : 1)).map(([nodeId, r]) => ({ nodeId, ...r }));
  return {
    get now() {
      return now;
    },
    start(nodeId: string, listed = true) {
      beating.set(nodeId, listed);
      records.set(nodeId, { expiresAt: now + TTL_MS, listed });
    },
    stop(nodeId: string) {
      beating.delete(nodeId);
    },
    remove(nodeId: string) {
      beating.delete(nodeId);
      records.delete(nodeId);
    },
    /** Advances the clock by `ms` in steps of half an interval: nodes beat each interval, the reader reads each step. */
    advance(ms: number, { reads = true } = {}) {
      const end = now + ms;
      while (now < end) {
        now += 500;
        if (now % 1_000 === 0) {
          for (const [id, listed] of beating) records.set(id, { expiresAt: now + TTL_MS, listed });
        }
        if (reads) this.read();
      }
    },
    read() {
      const verdict = judgeLiveness(view, entries(), now, SETTINGS);
      view = verdict.view;
      for (const id of verdict.joined) log.push(`${now} joined ${id}`);
      for (const id of verdict.left) log.push(`${now} left ${id}`);
      for (const id of verdict.expired) log.push(`${now} expired ${id}`);
      if (verdict.purgeBefore !== undefined) {
        for (const [id, r] of records) {
          if (r.expiresAt <= verdict.purgeBefore) {
            records.delete(id);
            log.push(`${now} purged ${id}`);
          }
        }
      }
      return verdict;
    },
    get view() {
      return view;
    },
    log,
  };
}

describe('liveness', () => {
  test('liveness - a node that stops beating leaves and expires at its TTL, once, and is purged after the retention', () => {
    const c = fakeCluster();
    c.start('a');
    c.start('b');
    c.read();
    expect(c.log).toEqual(['100000 joined a', '100000 joined b']);
    c.advance(2_000);
    c.stop('b');
    const stoppedAt = c.now;
    c.advance(20_000);
    // b's last record was written at 102000 (expires 105000): left and expired on the first read after.
    expect(c.log.slice(2)).toEqual([`105000 left b`, `105000 expired b`, `115000 purged b`]);
    expect(stoppedAt).toBe(102_000);
    expect(c.view.live).toEqual(new Set(['a']));
    expect(c.view.expired).toEqual(new Set());
  });

  test('liveness - a node that comes back within the retention rejoins and can expire again', () => {
    const c = fakeCluster();
    c.start('a');
    c.read();
    c.stop('a');
    c.advance(4_000);
    c.start('a');
    c.advance(1_000);
    c.stop('a');
    c.advance(4_000);
    expect(c.log).toEqual([
      '100000 joined a',
      '103000 left a',
      '103000 expired a',
      '104500 joined a',
      '108000 left a',
      '108000 expired a',
    ]);
  });

  test('liveness - back from its own outage, a reader judges no node for one interval', () => {
    const c = fakeCluster();
    c.start('a');
    c.start('b');
    c.read();
    // The reader is cut off for 5 s (no reads), and so are the writers: every record expired meanwhile.
    c.stop('a');
    c.stop('b');
    c.advance(5_000, { reads: false });
    expect(c.read()).toMatchObject({ joined: [], left: [], expired: [], purgeBefore: undefined });
    expect(c.view.live).toEqual(new Set(['a', 'b']));
    // a writes again within that interval; b does not, and is judged once the interval is over.
    c.start('a');
    c.advance(500);
    expect(c.log).toEqual(['100000 joined a', '100000 joined b']);
    c.advance(500);
    expect(c.log.slice(2)).toEqual(['106000 left b', '106000 expired b']);
    expect(c.view.live).toEqual(new Set(['a']));
  });

  test('liveness - a draining node (no record fields) leaves at once but stays live; a removed one just leaves', () => {
    const c = fakeCluster();
    c.start('a');
    c.start('b');
    c.start('s', false);
    c.read();
    expect(c.log).toEqual(['100000 joined a', '100000 joined b']);
    expect(c.view.live).toEqual(new Set(['a', 'b', 's']));
    c.start('a', false);
    c.remove('b');
    c.advance(500);
    expect(c.log.slice(2)).toEqual(['100500 left a', '100500 left b']);
    expect(c.view.live).toEqual(new Set(['a', 's']));
    expect(c.view.listed).toEqual(new Set());
    c.advance(5_000);
    expect(c.log).toHaveLength(4);
  });

  test('liveness - a first read tells every expired node once, and purges none younger than the retention', () => {
    const entries: LivenessEntry[] = [
      { nodeId: 'old', expiresAt: 80_000, listed: false },
      { nodeId: 'recent', expiresAt: 99_000, listed: true },
      { nodeId: 'up', expiresAt: 101_000, listed: true },
    ];
    const first = judgeLiveness(NO_LIVENESS_VIEW, entries, 100_000, SETTINGS);
    expect(first).toMatchObject({
      joined: ['up'],
      left: [],
      expired: ['old', 'recent'],
      purgeBefore: 90_000,
    });
    const second = judgeLiveness(first.view, entries, 100_500, SETTINGS);
    expect(second).toMatchObject({ joined: [], left: [], expired: [] });
  });
});
