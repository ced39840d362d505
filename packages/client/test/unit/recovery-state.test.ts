import { describe, expect, test } from 'vitest';
import { RecoveryState } from '../../src/recovery-state.js';

// The protocol's event names are written out here: these tests pin what goes over the wire.
describe('recovery state', () => {
  test('recovery state - a first handshake has no session and no positions', () => {
    expect(new RecoveryState().handshake()).toEqual({ v: 1, positions: [] });
  });

  test('recovery state - $session is kept for the next handshake and not shown to the application', () => {
    const state = new RecoveryState();
    expect(state.receive('$session', ['s-1'])).toEqual({ kind: 'internal' });
    expect(state.receive('$session', [42])).toEqual({ kind: 'internal' });
    expect(state.handshake()).toEqual({ v: 1, session: 's-1', positions: [] });
    state.receive('$session', ['s-2']);
    expect(state.handshake().session).toBe('s-2');
  });

  test('recovery state - $h unwraps the room message for the application and records its position', () => {
    const state = new RecoveryState();
    expect(state.receive('$h', ['lobby', 'e1', 7, 'chat', { text: 'hi' }, 2])).toEqual({
      kind: 'app',
      event: 'chat',
      args: [{ text: 'hi' }, 2],
    });
    expect(state.position('lobby')).toEqual({ epoch: 'e1', offset: 7 });
    expect(state.position('other')).toBeUndefined();
    // A position without a message (the event name missing) still moves the position.
    expect(state.receive('$h', ['lobby', 'e1', 8])).toEqual({ kind: 'internal' });
    expect(state.position('lobby')).toEqual({ epoch: 'e1', offset: 8 });
  });

  test('recovery state - positions only move forward within an epoch; another epoch replaces them', () => {
    const state = new RecoveryState();
    state.receive('$pos', ['a', 'e1', 10]);
    state.receive('$pos', ['a', 'e1', 4]);
    state.receive('$h', ['a', 'e1', 10, 'again']);
    expect(state.position('a')).toEqual({ epoch: 'e1', offset: 10 });
    state.receive('$pos', ['a', 'e2', 1]);
    expect(state.position('a')).toEqual({ epoch: 'e2', offset: 1 });
  });

  test('recovery state - the handshake lists rooms by last change, oldest first', () => {
    const state = new RecoveryState();
    state.receive('$session', ['s']);
    state.receive('$pos', ['a', 'e', 1]);
    state.receive('$pos', ['b', 'e', 5]);
    state.receive('$h', ['a', 'e', 2, 'msg']);
    // Not a move forward: 'b' keeps its place.
    state.receive('$pos', ['b', 'e', 3]);
    expect(state.handshake()).toEqual({
      v: 1,
      session: 's',
      positions: [
        ['b', 'e', 5],
        ['a', 'e', 2],
      ],
    });
  });

  test.each([
    ['$pos', ['a', 'e', '1']],
    ['$pos', [1, 'e', 1]],
    ['$h', ['a', 3, 1, 'msg']],
    ['$h', []],
  ])('recovery state - a malformed %s %j is consumed and changes nothing', (event, args) => {
    const state = new RecoveryState();
    expect(state.receive(event, args)).toEqual({ kind: 'internal' });
    expect(state.handshake().positions).toEqual([]);
  });

  test('recovery state - $recovered becomes a report; any other event is the application’s', () => {
    const state = new RecoveryState();
    const report = { recovered: false, rooms: [], missed: 0, reason: 'expired' };
    expect(state.receive('$recovered', [report])).toEqual({ kind: 'recovered', report });
    expect(state.receive('chat', ['x', 1])).toEqual({ kind: 'app', event: 'chat', args: ['x', 1] });
  });

  test('recovery state - event ids are distinct and counted in base 36', () => {
    const state = new RecoveryState();
    const ids = Array.from({ length: 40 }, () => state.eid());
    expect(ids.slice(0, 3)).toEqual(['0', '1', '2']);
    expect(ids.slice(35, 38)).toEqual(['z', '10', '11']);
    expect(new Set(ids).size).toBe(40);
  });

  test('recovery state - past 10,000 rooms the oldest position is dropped', () => {
    const state = new RecoveryState();
    for (let i = 0; i <= 10_000; i++) state.receive('$pos', [`r${i}`, 'e', i]);
    const { positions } = state.handshake();
    expect(positions).toHaveLength(10_000);
    expect(positions[0]).toEqual(['r1', 'e', 1]);
    expect(positions.at(-1)).toEqual(['r10000', 'e', 10_000]);
    expect(state.position('r0')).toBeUndefined();
  });
});
