import type { PresenceMember } from '@iocluster/shared';
import { describe, expect, test } from 'vitest';
import { PresenceWrites } from '../../src/presence-writes.js';

const member = (id: string, socketId: string, joinedAt: number, meta = {}): PresenceMember => ({
  id,
  meta,
  connections: [{ socketId, nodeId: 'io-1', meta, joinedAt }],
});

describe('presence writes', () => {
  test('presence writes - a running job sees its joins, leaves and disconnects merged into what the store returned; an ended one no more', () => {
    const writes = new PresenceWrites();
    const stored = [member('bob', 'b1', 1, { nick: 'bob' }), member('cy', 'c1', 2)];
    const job = writes.begin();
    expect(writes.merge('r', stored)).toBe(stored);
    job.joined('r', { socketId: 'a1', memberId: 'ann', nodeId: 'io-2', meta: { nick: 'ann' } });
    // A second tab of bob, and a new meta for cy's connection (a join again counts from now, as in Redis).
    job.joined('r', { socketId: 'b2', memberId: 'bob', nodeId: 'io-2', meta: { nick: 'bob 2' } });
    job.joined('r', { socketId: 'c1', memberId: 'cy', nodeId: 'io-1', meta: { nick: 'cy' } });
    const merged = writes.merge('r', stored);
    expect(merged.map((m) => [m.id, m.meta, m.connections.map((c) => c.socketId)])).toEqual([
      ['bob', { nick: 'bob' }, ['b1', 'b2']],
      ['ann', { nick: 'ann' }, ['a1']],
      ['cy', { nick: 'cy' }, ['c1']],
    ]);
    expect(writes.touches('r')).toBe(true);
    expect(writes.touches('other')).toBe(false);

    // The last write of a socket wins: ann leaves again; bob's first tab disconnects.
    job.left('r', 'a1');
    job.gone('b1');
    expect(writes.merge('r', stored).map((m) => [m.id, m.connections.map((c) => c.socketId)])).toEqual([
      ['bob', ['b2']],
      ['cy', ['c1']],
    ]);
    job.end();
    expect(writes.merge('r', stored)).toBe(stored);
    job.joined('r', { socketId: 'late', memberId: 'late', nodeId: 'io-1', meta: {} });
    expect(writes.touches('r')).toBe(false);
  });
});
