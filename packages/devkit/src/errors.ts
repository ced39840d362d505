/** Why a process of the development tooling could not be started. */
export type DevkitErrorCode =
  /** `redis-server` is not on the PATH (or cannot be executed). */
  | 'REDIS_SERVER_NOT_FOUND'
  /** `redis-sentinel` is not on the PATH (Debian: package redis-sentinel). */
  | 'REDIS_SENTINEL_NOT_FOUND'
  /** `redis-cli` is not on the PATH (Debian: package redis-tools, a dependency of redis-server). */
  | 'REDIS_CLI_NOT_FOUND'
  /** `redis-cli --cluster create` failed. */
  | 'CLUSTER_CREATE_FAILED'
  /** A Sentinel or Cluster setup did not reach the state waited for (ready, failed over) in time. */
  | 'TOPOLOGY_TIMEOUT'
  /** The process could not be spawned or forked at all. */
  | 'SPAWN_FAILED'
  /** The process exited before it was ready. */
  | 'EXITED_BEFORE_READY'
  /** The process was not ready in time; it has been killed. */
  | 'READY_TIMEOUT';

/** A process could not be started; `message` ends with its last output lines when there were any. */
export class DevkitError extends Error {
  override readonly name = 'DevkitError';

  constructor(
    readonly code: DevkitErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
