import { describe, expect, test } from 'vitest';
import { ConfigError, IoclusterError } from '../../src/errors.js';
import { describeStartFailure } from '../../src/start-failure.js';

function listenError(code: string, port: number, address = '0.0.0.0'): Error {
  return Object.assign(new Error(`listen ${code}: ${address}:${port}`), {
    code,
    port,
    address,
    syscall: 'listen',
  });
}

describe('start failure', () => {
  test('start failure - each kind of failure is one line: what is wrong, which variable, what to do', () => {
    expect(
      describeStartFailure(new ConfigError('FRONTEND_PORT must be an integer from 0 to 65535, got "x"')),
    ).toEqual({
      message:
        'cannot start: FRONTEND_PORT must be an integer from 0 to 65535, got "x"; correct it and start again',
      code: 'CONFIG_INVALID',
      variable: 'FRONTEND_PORT',
    });
    expect(
      describeStartFailure(new ConfigError('set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both')),
    ).toEqual({
      message:
        'cannot start: set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both; correct it and start again',
      code: 'CONFIG_INVALID',
    });
    const ports = { IO_NODE_PORT: 3002, METRICS_PORT: undefined };
    expect(describeStartFailure(listenError('EADDRINUSE', 3002), ports)).toEqual({
      message:
        'cannot start: IO_NODE_PORT: port 3002 on 0.0.0.0 is already in use; choose another IO_NODE_PORT (0 picks a free port) or stop the process that holds it',
      code: 'EADDRINUSE',
      variable: 'IO_NODE_PORT',
    });
    expect(describeStartFailure(listenError('EACCES', 80), { FRONTEND_PORT: 80 })).toMatchObject({
      message:
        'cannot start: FRONTEND_PORT: port 80 on 0.0.0.0 may not be listened on without privileges; choose another FRONTEND_PORT (0 picks a free port), above 1023',
      variable: 'FRONTEND_PORT',
    });
    expect(describeStartFailure(listenError('EADDRINUSE', 9000), ports).message).toBe(
      'cannot start: port 9000 on 0.0.0.0 is already in use; choose another port or stop the process that holds it',
    );
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    expect(describeStartFailure(refused)).toEqual({
      message:
        'cannot start: Redis did not answer (connect ECONNREFUSED 127.0.0.1:6379); check REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES) and that Redis runs',
      code: 'ECONNREFUSED',
    });
    expect(
      describeStartFailure(new IoclusterError('WORKER_FAILED', 'worker 1 exited (1) before it was ready')),
    ).toEqual({
      message: 'cannot start: worker 1 exited (1) before it was ready',
      code: 'WORKER_FAILED',
    });
    expect(describeStartFailure(new TypeError('x is not a function'))).toEqual({
      message: 'cannot start: TypeError: x is not a function (LOG_LEVEL=debug shows the stack)',
      code: 'START_FAILED',
    });
    expect(describeStartFailure('thrown string')).toEqual({
      message: 'cannot start: thrown string',
      code: 'START_FAILED',
    });
  });
});
