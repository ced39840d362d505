import { describe, expect, test } from 'vitest';
import { splitByPartition } from '../../src/transport/partitions.js';
import { decodeCommandEnvelope, encodeCommandEnvelope, type JoinCommand } from '../../src/wire/commands.js';
import {
  decodeIngressJob,
  INGRESS_VERSION,
  type IngressJob,
  RESERVED_EVENTS,
} from '../../src/wire/ingress.js';

const change = {
  id: 'io-1.o.ab.1',
  type: 'occupied',
  room: 'room-a',
  nodeId: 'io-1',
  reason: 'members',
  time: 1_700_000_000_000,
} as const;

describe('occupancy and rewind on the wire', () => {
  test('wire - an ingress job carries occupancy changes; a bad one names its field', () => {
    const job = { v: INGRESS_VERSION, nodeId: 'io-1', batches: [], occupancy: [change] };
    expect(decodeIngressJob(JSON.parse(JSON.stringify(job)))).toEqual(job);
    expect(() => decodeIngressJob({ ...job, occupancy: [{ ...change, type: 'full' }] })).toThrow(
      'job.occupancy[0].type must be occupied or vacated',
    );
    expect(() => decodeIngressJob({ ...job, occupancy: [{ ...change, reason: 'x' }] })).toThrow(
      'job.occupancy[0].reason must be members or purge',
    );
    expect(RESERVED_EVENTS.has('room:occupied')).toBe(true);
    expect(RESERVED_EVENTS.has('room:vacated')).toBe(true);
  });

  test('wire - occupancy changes ride with a job split over partitions, or alone in partition 0', () => {
    const alone: IngressJob = { v: INGRESS_VERSION, nodeId: 'io-1', batches: [], occupancy: [change] };
    const parts = splitByPartition([alone], 4);
    expect(parts.map((p) => p.length)).toEqual([1, 0, 0, 0]);
    expect(parts[0]![0]!.occupancy).toEqual([change]);
  });

  test('wire - a join with rewind round-trips; a bad rewind drops that join only', () => {
    const join: JoinCommand = {
      type: 'join',
      socketId: 's1',
      rooms: ['feed'],
      positions: [['feed', 'e1', 4]],
      rewind: { count: 5, ms: 1_000 },
    };
    const ok = decodeCommandEnvelope(encodeCommandEnvelope([join]));
    expect(ok).toEqual({ cmds: [join], errors: [] });
    for (const [rewind, message] of [
      [{}, 'needs count or ms'],
      [{ count: 0 }, 'count must be 1 to 1000'],
      [{ count: 5_000 }, 'count must be 1 to 1000'],
      [{ ms: -1 }, 'ms must be a non-negative integer'],
      [{ ms: 0 }, 'ms must be positive'],
    ] as const) {
      const bad = decodeCommandEnvelope(JSON.stringify({ v: 1, cmds: [{ ...join, rewind }, join] }));
      expect(bad.cmds).toEqual([join]);
      expect(bad.errors[0]?.message).toContain(message);
    }
  });
});
