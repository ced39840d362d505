export type { AdminRoomsSource, AdminState, QueueCounts, RoomPresence } from './admin-state.js';
export type { Frontend, FrontendOptions } from './frontend.js';
export { createFrontend } from './frontend.js';
export type { ApiContext, FrontendErrorCode } from './http-api.js';
export type { NodePicker } from './node-picker.js';
export { createNodePicker } from './node-picker.js';
