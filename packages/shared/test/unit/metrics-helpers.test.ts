import { describe, expect, test } from 'vitest';
import {
  type AppNodeRecord,
  cachedReader,
  createRateMeter,
  decodeAppNodeRecord,
  encodeAppNodeRecord,
} from '../../src/index.js';

describe('rates and records', () => {
  test('rate meter - averages whole seconds over its window and forgets older ones', () => {
    let now = 10_000;
    const meter = createRateMeter(5, () => now);
    meter.mark(10);
    // The second still filling is not reported.
    expect(meter.perSecond()).toBe(0);
    now = 11_000;
    meter.mark(5);
    now = 12_500;
    expect(meter.perSecond()).toBe(3);
    now = 15_999;
    expect(meter.perSecond()).toBe(3);
    // 10 fell out at 16 s; the 5 marked at 11 s leaves at 17 s.
    now = 16_000;
    expect(meter.perSecond()).toBe(1);
    now = 60_000;
    expect(meter.perSecond()).toBe(0);
    expect(() => createRateMeter(0)).toThrow(/windowSeconds/);
  });

  test('cached reader - one read per period; a failed read is not cached', async () => {
    let reads = 0;
    let fail = true;
    const read = cachedReader(async () => {
      reads++;
      if (fail) throw new Error('down');
      return reads;
    }, 60_000);
    await expect(read()).rejects.toThrow('down');
    fail = false;
    expect(await read()).toBe(2);
    expect(await read()).toBe(2);
    expect(reads).toBe(2);
  });

  test('app-node record - survives the registry hash unchanged; malformed fields are refused by name', () => {
    const record: AppNodeRecord = {
      nodeId: 'app-1',
      concurrency: 16,
      jobsPerSecond: 12.5,
      eventsPerSecond: 40.2,
      startedAt: 1_700_000_000_000,
      version: '0.1.0',
      lastSeen: 1_700_000_002_000,
      metricsUrl: 'http://127.0.0.1:9464/metrics',
    };
    const fields = encodeAppNodeRecord(record);
    expect(Object.values(fields).every((v) => typeof v === 'string')).toBe(true);
    expect(decodeAppNodeRecord(fields)).toEqual(record);
    expect(decodeAppNodeRecord({ ...fields, metricsUrl: '' }).metricsUrl).toBe('');
    expect(() => decodeAppNodeRecord({ ...fields, concurrency: '1.5' })).toThrow(/"concurrency"/);
    expect(() => decodeAppNodeRecord({ ...fields, jobsPerSecond: 'fast' })).toThrow(/"jobsPerSecond"/);
    expect(() => decodeAppNodeRecord({ ...fields, metricsUrl: 'nope' })).toThrow(/"metricsUrl"/);
    expect(() => decodeAppNodeRecord({ ...fields, nodeId: '' })).toThrow(/"nodeId"/);
  });
});
