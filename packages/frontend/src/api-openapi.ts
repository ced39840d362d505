import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { API_METHODS, type ApiMethodName } from './api-methods.js';
import { ErrorSchema, HistoryQuery } from './api-schemas.js';

/** Where the server API lives. */
export const API_BASE = '/api/v1';

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** The error answers every authorized route may give. */
const ERRORS = {
  400: json(ErrorSchema, '`BAD_REQUEST`: the request is not valid (the message names what)'),
  401: json(ErrorSchema, '`UNAUTHORIZED`: the API key is missing or wrong'),
  429: json(ErrorSchema, '`RATE_LIMITED`: too many requests from this address; see `RateLimit` headers'),
  503: json(ErrorSchema, '`REDIS_UNAVAILABLE`: Redis is unreachable; retry'),
};

/** The POST routes: one per method that takes a JSON body, named like it. */
const POSTS: { name: ApiMethodName; path: string; summary: string; extra?: RouteConfig['responses'] }[] = [
  {
    name: 'publish',
    path: '/publish',
    summary: 'Emit an event to a room; answers its history position when the room keeps history',
    extra: { 409: json(ErrorSchema, '`IN_PROGRESS`: a publish with this idempotency key is still running') },
  },
  {
    name: 'broadcast',
    path: '/broadcast',
    summary: 'Emit an event to several rooms (a client in two of them gets it once)',
    extra: {
      409: json(ErrorSchema, '`IN_PROGRESS`: a broadcast with this idempotency key is still running'),
    },
  },
  {
    name: 'disconnect',
    path: '/disconnect',
    summary: "Disconnect a user's connections (on every io-node) or one socket",
  },
  { name: 'subscribe', path: '/subscribe', summary: "Make a user's connections or one socket join rooms" },
  {
    name: 'unsubscribe',
    path: '/unsubscribe',
    summary: "Make a user's connections or one socket leave rooms",
  },
];

/** The GET routes: the room in the path, the rest in the query. */
const GETS: { name: ApiMethodName; path: string; summary: string; query?: z.ZodObject }[] = [
  { name: 'presence', path: '/presence/{room}', summary: "A room's presence roster" },
  { name: 'presenceStats', path: '/presence-stats/{room}', summary: "A room's member and connection counts" },
  {
    name: 'history',
    path: '/history/{room}',
    summary: "A room's history: the newest `limit` messages, or those after `epoch` + `offset`",
    query: HistoryQuery,
  },
];

/**
 * The OpenAPI 3.1 document of `/api/v1`, generated from the zod schemas the routes validate with (so it
 * cannot drift from them). Served at `/api/v1/openapi.json`.
 */
export function createOpenApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: "The frontend's `API_KEY`",
  });
  const security = [{ [bearer.name]: [] }];
  for (const { name, path, summary, extra } of POSTS) {
    const m = API_METHODS[name];
    registry.registerPath({
      method: 'post',
      path: `${API_BASE}${path}`,
      operationId: name,
      summary,
      security,
      request: { body: { required: true, content: { 'application/json': { schema: m.params } } } },
      responses: { 200: json(m.result, 'Done'), ...ERRORS, ...extra },
    });
  }
  for (const { name, path, summary, query } of GETS) {
    const m = API_METHODS[name];
    registry.registerPath({
      method: 'get',
      path: `${API_BASE}${path}`,
      operationId: name,
      summary,
      security,
      request: { params: z.object({ room: z.string().min(1) }), ...(query ? { query } : {}) },
      responses: { 200: json(m.result, 'Found'), ...ERRORS },
    });
  }
  registry.registerPath({
    method: 'get',
    path: `${API_BASE}/channels`,
    operationId: 'channels',
    summary: 'Rooms that have presence members (sampled from every io-node), with their member counts',
    security,
    request: { query: API_METHODS.channels.params },
    responses: { 200: json(API_METHODS.channels.result, 'Found'), ...ERRORS },
  });
  const BatchEntry = z
    .object({
      method: z.enum(Object.keys(API_METHODS) as [ApiMethodName, ...ApiMethodName[]]),
      params: z.record(z.string(), z.unknown()).meta({ description: 'What the method takes as its body' }),
    })
    .meta({ id: 'BatchCommand' });
  registry.registerPath({
    method: 'post',
    path: `${API_BASE}/batch`,
    operationId: 'batch',
    summary: 'Several methods in one request, run in order; each answered on its own',
    security,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.object({ commands: z.array(BatchEntry).min(1).max(100) }).meta({ id: 'BatchRequest' }),
          },
        },
      },
    },
    responses: {
      200: json(
        z
          .object({
            replies: z.array(
              z
                .union([z.object({ result: z.unknown() }), ErrorSchema])
                .meta({ description: 'In command order' }),
            ),
          })
          .meta({ id: 'BatchResult' }),
        'Each command answered (a failed one with its error)',
      ),
      ...ERRORS,
    },
  });
  registry.registerPath({
    method: 'get',
    path: `${API_BASE}/openapi.json`,
    operationId: 'openapi',
    summary: 'This document',
    responses: { 200: { description: 'The OpenAPI document' } },
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'iocluster server API',
      version: '1',
      description:
        'Emit to rooms, read presence and history of an iocluster stack over HTTP. Errors answer `{ error: { code, message } }` with a stable `code`.',
    },
  });
}
