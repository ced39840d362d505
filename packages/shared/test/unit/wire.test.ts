import { describe, expect, test } from 'vitest';
import {
  decodeArgs,
  decodeCommandEnvelope,
  decodeIngressJob,
  encodeArgs,
  encodeCommandEnvelope,
  type IngressJob,
  presenceMemberId,
  WireError,
} from '../../src/index.js';

const client = {
  id: 's1',
  nodeId: 'io-1',
  data: { name: 'ada' },
  rooms: ['lobby'],
  handshake: { address: '127.0.0.1', time: 1, query: {}, auth: {} },
  user: null,
};

describe('wire', () => {
  test('wire - an ingress job survives JSON and validation unchanged', () => {
    const job: IngressJob = {
      v: 1,
      nodeId: 'io-1',
      batches: [
        {
          client,
          events: [
            { seq: 0, kind: 'connect' },
            { seq: 1, kind: 'event', name: 'chat', args: [{ text: 'hi' }], ack: true },
            { seq: 2, kind: 'disconnect', reason: 'transport close' },
          ],
        },
      ],
    };
    expect(decodeIngressJob(JSON.parse(JSON.stringify(job)))).toEqual(job);
  });

  test.each([
    [{ v: 2, nodeId: 'n', batches: [] }, /job has version 2, expected 1/],
    [{ v: 1, nodeId: '', batches: [] }, /job.nodeId must not be empty/],
    [
      { v: 1, nodeId: 'n', batches: [{ client: { ...client, rooms: 'x' }, events: [] }] },
      /client.rooms must be an array/,
    ],
    [
      { v: 1, nodeId: 'n', batches: [{ client, events: [{ seq: -1, kind: 'connect' }] }] },
      /seq must be a non-negative/,
    ],
    [
      { v: 1, nodeId: 'n', batches: [{ client, events: [{ seq: 1, kind: 'explode' }] }] },
      /kind must be connect, event/,
    ],
  ])('wire - a malformed job is refused naming the field (%#)', (job, message) => {
    expect(() => decodeIngressJob(job)).toThrow(WireError);
    expect(() => decodeIngressJob(job)).toThrow(message);
  });

  test('wire - a command envelope keeps valid commands and drops each malformed one', () => {
    const raw = JSON.stringify({
      v: 1,
      cmds: [
        { type: 'join', socketId: 's1', rooms: ['a'] },
        { type: 'emit', event: 'x', args: [], socketId: 's1', rooms: ['a'] },
        { type: 'teleport' },
        { type: 'emit', event: 'chat', args: [1], rooms: ['a'], except: ['s2'] },
        { type: 'reply', socketId: 's1', seq: 3, error: { code: 'E', message: 'm' } },
      ],
    });
    const { cmds, errors } = decodeCommandEnvelope(raw);
    expect(cmds).toEqual([
      { type: 'join', socketId: 's1', rooms: ['a'] },
      { type: 'emit', event: 'chat', args: [1], rooms: ['a'], except: ['s2'] },
      { type: 'reply', socketId: 's1', seq: 3, error: { code: 'E', message: 'm' } },
    ]);
    expect(errors.map((e) => e.message)).toEqual([
      'envelope.cmds[1] targets a socket and rooms at once',
      'envelope.cmds[2].type "teleport" is not a known command',
    ]);
    expect(decodeCommandEnvelope('{nope').errors[0]?.message).toBe('command message is not JSON');
    expect(decodeCommandEnvelope('{"v":9,"cmds":[]}').errors[0]?.message).toMatch(/version 9/);
    expect(decodeCommandEnvelope(encodeCommandEnvelope(cmds)).cmds).toEqual(cmds);
  });

  test('wire - an emit may be volatile (kept only as true); a volatile emit with a history position is refused', () => {
    const cmds = [
      { type: 'emit', event: 'typing', args: [1], rooms: ['a'], volatile: true },
      { type: 'emit', event: 'typing', args: [2], socketId: 's1', volatile: 'yes' },
      {
        type: 'emit',
        event: 'typing',
        args: [3],
        rooms: ['a'],
        volatile: true,
        history: { epoch: 'e', offset: 1 },
      },
    ];
    const { cmds: ok, errors } = decodeCommandEnvelope(JSON.stringify({ v: 1, cmds }));
    expect(ok).toEqual([cmds[0], { type: 'emit', event: 'typing', args: [2], socketId: 's1' }]);
    expect(errors.map((e) => e.message)).toEqual(['envelope.cmds[2] is volatile and has a history position']);
  });

  test('wire - binary arguments travel as base64 and come back as Buffers; text stays untouched', () => {
    const text = [{ a: 1 }, 'b'];
    expect(encodeArgs(text)).toEqual({ args: text });
    expect(encodeArgs(text).args).toBe(text);
    const encoded = encodeArgs([{ file: Buffer.from('hello'), n: 1 }, new Uint8Array([1, 2])]);
    expect(encoded.bin).toBe(true);
    const decoded = decodeArgs(JSON.parse(JSON.stringify(encoded.args)), encoded.bin) as [
      { file: Buffer; n: number },
      Buffer,
    ];
    expect(decoded[0].file.toString()).toBe('hello');
    expect(decoded[0].n).toBe(1);
    expect([...decoded[1]]).toEqual([1, 2]);
  });

  test('wire - presence: a join carries meta, an emit its once id, a job its changes; bad ones are refused naming the field', () => {
    const cmds = [
      { type: 'join', socketId: 's1', rooms: ['a'], presence: { nick: 'ada' } },
      { type: 'emit', event: 'presence', args: [{}], rooms: ['a'], once: 'io-1.x.1' },
      { type: 'join', socketId: 's1', rooms: ['a'], presence: ['not', 'an object'] },
      { type: 'join', socketId: 's1', rooms: ['a'], presence: { big: 'x'.repeat(3_000) } },
    ];
    const { cmds: ok, errors } = decodeCommandEnvelope(JSON.stringify({ v: 1, cmds }));
    expect(ok).toEqual(cmds.slice(0, 2));
    expect(errors.map((e) => e.message)).toEqual([
      'envelope.cmds[2].presence must be a plain object',
      'envelope.cmds[3].presence is larger than 2048 bytes as JSON',
    ]);
    const change = {
      id: 'io-1.x.1',
      type: 'left',
      room: 'a',
      memberId: 'u1',
      meta: { nick: 'ada' },
      socketId: 's1',
      nodeId: 'io-2',
      reason: 'purge',
    } as const;
    const job: IngressJob = { v: 1, nodeId: 'io-1', batches: [], presence: [change] };
    expect(decodeIngressJob(JSON.parse(JSON.stringify(job)))).toEqual(job);
    expect(() => decodeIngressJob({ ...job, presence: [{ ...change, type: 'gone' }] })).toThrow(
      /job.presence\[0\].type must be joined or left/,
    );
    expect(() => decodeIngressJob({ ...job, presence: [{ ...change, reason: 'why' }] })).toThrow(
      /job.presence\[0\].reason must be one of/,
    );
  });

  test('wire - a presence member is the user id, its sub, a string user, or else the socket', () => {
    expect(presenceMemberId({ id: 'u1', sub: 'x' }, 's')).toBe('u1');
    expect(presenceMemberId({ sub: 'jwt-subject' }, 's')).toBe('jwt-subject');
    expect(presenceMemberId({ id: 42 }, 's')).toBe('42');
    expect(presenceMemberId('alice', 's')).toBe('alice');
    expect(presenceMemberId({ id: '' }, 's')).toBe('s');
    expect(presenceMemberId(null, 's')).toBe('s');
  });
});
