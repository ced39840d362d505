import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@iocluster/shared';
import type { AppNode } from './app-node.js';

/** What a handlers module exports (default or as `register`): registers the application's handlers. */
export type RegisterHandlers = (app: AppNode) => unknown;

/**
 * Imports the handlers module at `modulePath` (relative to the working directory) and returns its
 * `register` function. A module that is not there, does not load or exports no function is a
 * {@link ConfigError} that says which path was tried and what the module must export.
 */
export async function loadHandlersModule(modulePath: string): Promise<RegisterHandlers> {
  const url = pathToFileURL(resolve(modulePath)).href;
  let handlers: { default?: unknown; register?: unknown };
  try {
    handlers = (await import(url)) as typeof handlers;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const missing =
      code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(resolve(modulePath));
    throw new ConfigError(
      missing
        ? `APP_MODULE: the handlers module ${resolve(modulePath)} does not exist; give the path of your handlers module (the argument of app-node, or APP_MODULE)`
        : `APP_MODULE: the handlers module ${resolve(modulePath)} failed to load (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
  const register = handlers.default ?? handlers.register;
  if (typeof register !== 'function') {
    throw new ConfigError(
      `APP_MODULE: the handlers module ${resolve(modulePath)} exports no function; export \`register(app)\` (default or named)`,
    );
  }
  return register as RegisterHandlers;
}
