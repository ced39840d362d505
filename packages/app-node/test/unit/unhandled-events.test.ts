import { Writable } from 'node:stream';
import { createLogger } from '@iocluster/shared';
import { describe, expect, test } from 'vitest';
import { createUnhandledEvents } from '../../src/unhandled-events.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('unhandled events', () => {
  test('unhandled events - every one is counted; one warning per 10 s names the event, its client and how many went unreported', () => {
    const { lines, logger } = capture();
    let clock = 1_000;
    let counted = 0;
    const unhandled = createUnhandledEvents({ logger, count: () => counted++, now: () => clock });
    const from = { clientId: 'c1', ioNodeId: 'io-1', acked: false };
    unhandled('typo', from);
    for (let i = 0; i < 4; i++) {
      clock += 2_000;
      unhandled('typo', from);
    }
    clock += 2_001;
    unhandled('other', { clientId: 'c2', ioNodeId: 'io-2', acked: true });
    expect(counted).toBe(6);
    expect(
      lines.map(({ level, event, clientId, ioNodeId, acked, unreported, msg }) => ({
        level,
        event,
        clientId,
        ioNodeId,
        acked,
        unreported,
        msg,
      })),
    ).toEqual([
      {
        level: 40,
        event: 'typo',
        clientId: 'c1',
        ioNodeId: 'io-1',
        acked: false,
        unreported: 0,
        msg: 'no handler for event "typo": dropped; register one with app.on("typo", ...)',
      },
      {
        level: 40,
        event: 'other',
        clientId: 'c2',
        ioNodeId: 'io-2',
        acked: true,
        unreported: 4,
        msg: 'no handler for event "other": dropped (its ack got NO_HANDLER); register one with app.on("other", ...)',
      },
    ]);
  });
});
