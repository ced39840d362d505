import type { Command, EmitCommand, ReplyCommand } from '@iocluster/shared';
import { describe, expect, test } from 'vitest';
import {
  type DeliveryInput,
  lookupsOf,
  needsNoSteps,
  planAppends,
  roomsOfGone,
  routedOf,
  splitForHistory,
} from '../../src/command-plan.js';

const emit = (rooms: string[] | undefined, extra: Partial<EmitCommand> = {}): EmitCommand => ({
  type: 'emit',
  event: 'm',
  args: [],
  ...(rooms ? { rooms } : {}),
  ...extra,
});
const reply = (socketId: string, seq: number): ReplyCommand => ({ type: 'reply', socketId, seq });

function delivery(
  entries: [string | null, Command][],
  replies: [string, ReplyCommand[]][] = [],
): DeliveryInput {
  return { targets: entries.map(([t]) => t), cmds: entries.map(([, c]) => c), replies: new Map(replies) };
}

describe('command plan', () => {
  test('plan - a room emit goes to the io-nodes counted for its rooms, each once', () => {
    const cmd = emit(['a', 'b']);
    const plan = planAppends(
      delivery([[null, cmd]]),
      new Map([
        ['a', ['n1', 'n2']],
        ['b', ['n2', 'n3']],
      ]),
      ['n1', 'n2', 'n3', 'n4'],
    );
    expect([...plan]).toEqual([
      ['n1', [cmd]],
      ['n2', [cmd]],
      ['n3', [cmd]],
    ]);
  });

  test('plan - a room no io-node counts goes to every broadcast target', () => {
    const cmd = emit(['socket-id-as-room']);
    const plan = planAppends(delivery([[null, cmd]]), new Map([['socket-id-as-room', []]]), ['n1', 'n2']);
    expect([...plan.keys()]).toEqual(['n1', 'n2']);
  });

  test('plan - broadcasts and custom commands without a target go to every broadcast target', () => {
    const all = emit(undefined);
    const custom: Command = { type: 'custom', name: 'x', payload: 1 };
    const plan = planAppends(
      delivery([
        [null, all],
        [null, custom],
      ]),
      new Map(),
      ['n1', 'n2'],
    );
    expect([...plan]).toEqual([
      ['n1', [all, custom]],
      ['n2', [all, custom]],
    ]);
  });

  test('plan - each io-node gets its commands in publish order and its replies after them', () => {
    const join: Command = { type: 'join', socketId: 's1', rooms: ['r'] };
    const toRoom = emit(['r']);
    const direct = emit(undefined, { socketId: 's2' });
    const plan = planAppends(
      delivery(
        [
          ['n1', join],
          [null, toRoom],
          ['n2', direct],
        ],
        [
          ['n1', [reply('s1', 0)]],
          ['n2', [reply('s2', 4), reply('s2', 5)]],
        ],
      ),
      new Map([['r', ['n1', 'n2']]]),
      ['n1', 'n2'],
    );
    expect(plan.get('n1')).toEqual([join, toRoom, reply('s1', 0)]);
    expect(plan.get('n2')).toEqual([toRoom, direct, reply('s2', 4), reply('s2', 5)]);
  });

  test('lookups - joins are counted per io-node, room emits name their rooms, broadcasts need every node', () => {
    const found = lookupsOf(
      delivery([
        ['n1', { type: 'join', socketId: 's1', rooms: ['a', 'b'] }],
        ['n1', { type: 'join', socketId: 's2', rooms: ['b', 'c'] }],
        ['n2', { type: 'join', socketId: 's3', rooms: ['a'] }],
        [null, emit(['a', 'd'])],
        ['n2', emit(['ignored: targeted'], { socketId: 's3' })],
      ]),
    );
    expect(found.joins).toEqual(
      new Map([
        ['n1', new Set(['a', 'b', 'c'])],
        ['n2', new Set(['a'])],
      ]),
    );
    expect([...found.rooms]).toEqual(['a', 'd']);
    expect(found.broadcast).toBe(true);
    expect(lookupsOf(delivery([['n1', emit(undefined, { socketId: 's' })]])).broadcast).toBe(false);
    expect(lookupsOf(delivery([[null, { type: 'custom', name: 'x', payload: 0 }]])).rooms.size).toBe(0);
  });

  test('history - an emit to kept rooms becomes one message per kept room, each leaving out the rooms before it', () => {
    const { recorded, rest } = splitForHistory(emit(['k1', 'plain', 'k2'], { except: ['s9'] }), ['k1', 'k2']);
    expect(recorded.map((c) => [c.rooms, c.except])).toEqual([
      [['k1'], ['s9']],
      [['k2'], ['s9', 'k1']],
    ]);
    expect(rest?.rooms).toEqual(['plain']);
    expect(rest?.except).toEqual(['s9', 'k1', 'k2']);
  });

  test('history - an emit to kept rooms only has no rest, and a first part without exceptions has none', () => {
    const { recorded, rest } = splitForHistory(emit(['k1']), ['k1']);
    expect(recorded).toEqual([{ type: 'emit', event: 'm', args: [], rooms: ['k1'] }]);
    expect(rest).toBeUndefined();
  });

  test('routed - one step keeps targets, rooms and broadcasts apart, replies last; joins need two steps', () => {
    const d = delivery(
      [
        ['n1', emit(undefined, { socketId: 's' })],
        [null, emit(['r'])],
        [null, emit(undefined)],
      ],
      [['n1', [reply('s', 1)]]],
    );
    expect(routedOf(d).map((r) => ('node' in r ? r.node : 'rooms' in r ? r.rooms : 'all'))).toEqual([
      'n1',
      ['r'],
      'all',
      'n1',
    ]);
    expect(needsNoSteps(d, false)).toBe(true);
    expect(needsNoSteps(d, true)).toBe(false);
    expect(needsNoSteps(delivery([['n1', { type: 'join', socketId: 's', rooms: ['r'] }]]), false)).toBe(
      false,
    );
  });

  test('gone - an io-node without inbox is forgotten in the rooms it was joined to and found in', () => {
    const rooms = roomsOfGone(
      ['dead'],
      new Map([
        ['a', ['dead', 'n1']],
        ['b', ['n1']],
      ]),
      new Map([['dead', new Set(['c'])]]),
    );
    expect(rooms).toEqual(new Map([['dead', new Set(['c', 'a'])]]));
  });
});
