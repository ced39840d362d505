import { createHmac } from 'node:crypto';
import type { OccupancyChange, PresenceChange } from '@iocluster/shared';
import { describe, expect, test } from 'vitest';
import { occupancyEvents, presenceEvents, signWebhook, verifyWebhook } from '../../src/webhooks.js';

describe('webhooks', () => {
  test('webhooks - the signature is the hex HMAC-SHA256 of the exact body; anything else does not verify', () => {
    const body = JSON.stringify({ time: 1, events: [] });
    const signature = signWebhook('s3cret', body);
    expect(signature).toBe(createHmac('sha256', 's3cret').update(body).digest('hex'));
    expect(verifyWebhook('s3cret', body, signature)).toBe(true);
    expect(verifyWebhook('other', body, signature)).toBe(false);
    expect(verifyWebhook('s3cret', `${body}\n`, signature)).toBe(false);
    expect(verifyWebhook('s3cret', body, signature.slice(2))).toBe(false);
    expect(verifyWebhook('s3cret', body, 'not hex')).toBe(false);
  });

  test('webhooks - occupancy and presence changes become events that keep their change ids', () => {
    const occupancy: OccupancyChange[] = [
      { id: 'o1', type: 'occupied', room: 'r', nodeId: 'io-a', reason: 'members', time: 5 },
      { id: 'o2', type: 'vacated', room: 'r', nodeId: 'io-b', reason: 'purge', time: 6 },
    ];
    expect(occupancyEvents(occupancy)).toEqual([
      { id: 'o1', name: 'occupied', room: 'r', time: 5, reason: 'members' },
      { id: 'o2', name: 'vacated', room: 'r', time: 6, reason: 'purge' },
    ]);
    const presence: PresenceChange[] = [
      {
        id: 'p1',
        type: 'left',
        room: 'r',
        memberId: 'u1',
        meta: { nick: 'ada' },
        socketId: 's1',
        nodeId: 'io-a',
        reason: 'disconnect',
      },
    ];
    expect(presenceEvents(presence, 9)).toEqual([
      {
        id: 'p1',
        name: 'left',
        room: 'r',
        time: 9,
        reason: 'disconnect',
        member: { id: 'u1', meta: { nick: 'ada' }, socketId: 's1', nodeId: 'io-a' },
      },
    ]);
  });
});
