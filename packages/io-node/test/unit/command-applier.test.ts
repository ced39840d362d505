import { type Command, silentLogger } from '@iocluster/shared';
import { Server, type Socket } from 'socket.io';
import { describe, expect, test } from 'vitest';
import { createCommandApplier } from '../../src/command-applier.js';

/**
 * The command applier on a Socket.IO server attached to nothing (it holds no resource): its socket is a
 * stand-in that records what is done to it, and every part a command touches writes to one log, so the
 * order shows.
 */

function applier() {
  const io = new Server();
  const log: string[] = [];
  const socket = {
    id: 's1',
    data: {} as Record<string, unknown>,
    rooms: new Set(['s1']),
    join(rooms: string[]) {
      for (const room of rooms) this.rooms.add(room);
      log.push(`socket.io join ${rooms.join(',')}`);
    },
    emit(event: string, ...args: unknown[]) {
      log.push(`emit ${event} ${JSON.stringify(args)}`);
      return true;
    },
  };
  io.of('/').sockets.set(socket.id, socket as unknown as Socket);
  const apply = createCommandApplier(
    io,
    {
      sequencer: { reply: (cmd) => log.push(`reply ${cmd.socketId} ${cmd.seq}`) },
      roomRouting: { joinApplied: (rooms) => log.push(`routing join applied ${rooms.join(',')}`) },
      delivery: {
        emit: () => undefined,
        joined: (s, cmd) => log.push(`delivery joined ${s?.id} ${cmd.rooms.join(',')}`),
      },
      presence: {
        joined: (s, rooms, meta) => log.push(`presence ${s.id} ${rooms.join(',')} ${JSON.stringify(meta)}`),
      },
      dataChanged: (s) => log.push(`session ${s.id} ${JSON.stringify(s.data)}`),
      applied: (cmd) => log.push(`applied ${cmd.type}`),
      selections: () => false,
    },
    {},
    silentLogger(),
  );
  return { apply, log };
}

describe('command applier', () => {
  test('applier - an emit marked once is applied the first time only, and counted once', () => {
    const { apply, log } = applier();
    const emit: Command = { type: 'emit', event: 'presence', args: [{ n: 1 }], socketId: 's1', once: 'c1' };
    apply(emit);
    apply(emit);
    apply({ ...emit, once: 'c2', args: [{ n: 2 }] });
    expect(log).toEqual([
      'applied emit',
      'emit presence [{"n":1}]',
      'applied emit',
      'emit presence [{"n":2}]',
    ]);
  });

  test('applier - a join with presence: membership, routing, delivery, then the roster entry, then the session', () => {
    const { apply, log } = applier();
    apply({ type: 'join', socketId: 's1', rooms: ['lobby'], presence: { name: 'ada' } });
    apply({ type: 'join', socketId: 's1', rooms: ['quiet'] });
    apply({ type: 'set-data', socketId: 's1', data: { nick: 'ada' } });
    // A command for a socket this node does not hold changes nothing but the routing count.
    apply({ type: 'join', socketId: 'gone', rooms: ['lobby'], presence: { name: 'bob' } });
    expect(log).toEqual([
      'applied join',
      'socket.io join lobby',
      'routing join applied lobby',
      'delivery joined s1 lobby',
      'presence s1 lobby {"name":"ada"}',
      'session s1 {}',
      'applied join',
      'socket.io join quiet',
      'routing join applied quiet',
      'delivery joined s1 quiet',
      'applied set-data',
      'session s1 {"nick":"ada"}',
      'applied join',
      'routing join applied lobby',
      'delivery joined undefined lobby',
    ]);
  });
});
