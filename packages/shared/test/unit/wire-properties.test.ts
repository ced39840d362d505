import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type ClientInfo,
  type Command,
  checkPresenceMeta,
  decodeAppNodeRecord,
  decodeArgs,
  decodeBinary,
  decodeChannelRequest,
  decodeClientInfo,
  decodeCommandEnvelope,
  decodeIngressJob,
  decodeIoNodeRecord,
  decodePresenceChange,
  encodeArgs,
  encodeBinary,
  encodeCommandEnvelope,
  encodeIoNodeRecord,
  type IngressJob,
  type IoNodeRecord,
  WireError,
} from '../../src/index.js';

/** Anything JSON.parse can return, including the names that pollute prototypes. */
const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  '$iocb',
  'toString',
  'v',
  'cmds',
  'type',
);
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), hostileKey), tie('value'), { maxKeys: 4 }),
  ),
})).value;
const parsedJson = jsonish.map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown);

/** Runs a decoder: it returns, or throws a WireError; nothing else (no TypeError, no prototype change). */
function totalOrWireError(decode: () => unknown): void {
  try {
    decode();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

const name = fc.string({ minLength: 1, maxLength: 40 });
/** The URLs io-nodes register. (fc.webUrl takes ~4 s to build its first arbitrary: too slow for the unit layer.) */
const nodeUrl = fc
  .tuple(fc.constantFrom('http', 'https'), fc.domain(), fc.integer({ min: 1, max: 65_535 }))
  .map(([scheme, host, port]) => `${scheme}://${host}:${port}`);
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const clientInfo: fc.Arbitrary<ClientInfo> = fc.record({
  id: name,
  nodeId: name,
  data: fc.dictionary(fc.string({ maxLength: 10 }), json, { maxKeys: 3 }),
  rooms: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
  handshake: fc.record({
    address: fc.string({ maxLength: 30 }),
    time: fc.nat(),
    query: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
    auth: fc.dictionary(fc.string({ maxLength: 10 }), json, { maxKeys: 3 }),
  }),
  user: json,
});
const ingressJob: fc.Arbitrary<IngressJob> = fc.record({
  v: fc.constant(1 as const),
  nodeId: name,
  batches: fc.array(
    fc.record({
      client: clientInfo,
      events: fc.array(
        fc.oneof(
          fc.record({ seq: fc.nat(), kind: fc.constant('connect' as const) }),
          fc.record({
            seq: fc.nat(),
            kind: fc.constant('disconnect' as const),
            reason: fc.string({ maxLength: 20 }),
          }),
          fc.record({
            seq: fc.nat(),
            kind: fc.constant('event' as const),
            name,
            args: fc.array(json, { maxLength: 3 }),
            ack: fc.boolean(),
          }),
        ),
        { maxLength: 4 },
      ),
    }),
    { maxLength: 3 },
  ),
});
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant('emit' as const),
    event: name,
    args: fc.array(json, { maxLength: 3 }),
    rooms: fc.array(name, { maxLength: 3 }),
  }),
  fc.record({ type: fc.constant('join' as const), socketId: name, rooms: fc.array(name, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('leave' as const), socketId: name, rooms: fc.array(name, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('reply' as const), socketId: name, seq: fc.nat(), result: json }),
  fc.record({ type: fc.constant('disconnect' as const), socketId: name, close: fc.boolean() }),
);

describe('wire properties', () => {
  test('wire - decodeIngressJob: any JSON is decoded or refused with a WireError; valid jobs round-trip', () => {
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => decodeIngressJob(value))));
    fc.assert(
      fc.property(ingressJob, (job) => {
        const wire = JSON.parse(JSON.stringify(job)) as unknown;
        expect(decodeIngressJob(wire)).toEqual(JSON.parse(JSON.stringify(job)));
      }),
    );
    // Mutating one field of a valid job yields a decode or a WireError, never another exception.
    fc.assert(
      fc.property(ingressJob, fc.constantFrom('v', 'nodeId', 'batches'), parsedJson, (job, key, junk) => {
        totalOrWireError(() => decodeIngressJob({ ...job, [key]: junk }));
      }),
    );
  });

  test('wire - decodeClientInfo: total over JSON, identity on valid values', () => {
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => decodeClientInfo(value))));
    fc.assert(
      fc.property(clientInfo, (info) => {
        const wire = JSON.parse(JSON.stringify(info)) as ClientInfo;
        expect(decodeClientInfo(wire)).toEqual(wire);
      }),
    );
  });

  test('wire - decodeCommandEnvelope: never throws on any string; valid commands survive next to malformed ones', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          parsedJson.map((v) => JSON.stringify(v) ?? ''),
        ),
        (raw) => {
          const decoded = decodeCommandEnvelope(raw);
          for (const err of decoded.errors) expect(err).toBeInstanceOf(WireError);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 5 }),
        fc.array(parsedJson, { maxLength: 3 }),
        (cmds, junk) => {
          const plain = JSON.parse(encodeCommandEnvelope(cmds)) as { cmds: unknown[] };
          const raw = JSON.stringify({
            v: 1,
            cmds: [...plain.cmds, ...junk.map((j) => ({ type: 'emit', event: j }))],
          });
          const decoded = decodeCommandEnvelope(raw);
          expect(decoded.cmds.slice(0, cmds.length)).toEqual(plain.cmds);
        },
      ),
    );
  });

  test('wire - io-node records: total over any field map, round-trip of valid records', () => {
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => decodeIoNodeRecord(value))));
    const record: fc.Arbitrary<IoNodeRecord> = fc.record({
      nodeId: name,
      url: nodeUrl,
      connections: fc.nat(),
      startedAt: fc.nat(),
      version: name,
      lastSeen: fc.nat(),
      eventsPerSecond: fc.nat(),
    });
    fc.assert(
      fc.property(record, (r) => {
        expect(decodeIoNodeRecord(encodeIoNodeRecord(r))).toEqual(r);
      }),
    );
  });

  test('wire - app-node records, presence changes and presence meta: total over any JSON', () => {
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => decodeAppNodeRecord(value))));
    fc.assert(
      fc.property(parsedJson, (value) => totalOrWireError(() => decodePresenceChange(value, 'change'))),
    );
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => checkPresenceMeta(value, 'meta'))));
  });

  test('wire - binary encoding round-trips and decodeBinary is total', () => {
    const withBinary = fc.array(
      fc.oneof(
        json,
        fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
      ),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(withBinary, (args) => {
        const encoded = encodeArgs(args);
        const wire = JSON.parse(JSON.stringify(encoded.args)) as unknown[];
        expect(decodeArgs(wire, encoded.bin)).toEqual(args);
      }),
    );
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => decodeBinary(encodeBinary(value)))));
    fc.assert(fc.property(parsedJson, (value) => totalOrWireError(() => decodeBinary(value))));
  });

  test('wire - decodeChannelRequest: accepts [channel] / [channel, data] only', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('$subscribe', '$unsubscribe', '$publish', '$other', 'subscribe'),
        fc.array(parsedJson, { maxLength: 3 }),
        (event, args) => totalOrWireError(() => decodeChannelRequest(event, args)),
      ),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), json, (channel, data) => {
        expect(decodeChannelRequest('$subscribe', [channel])).toEqual({ channel, data: undefined });
        expect(decodeChannelRequest('$publish', [channel, data])).toEqual({ channel, data });
      }),
    );
  });
});
