export type { AdminRoomsSource, AdminState, RoomPresence } from './admin-state.js';
export type { Frontend, FrontendOptions } from './frontend.js';
export { createFrontend } from './frontend.js';
export type { ApiContext, FrontendErrorCode } from './http-api.js';
export type {
  IngressConsumerView,
  IngressPartitionView,
  IngressView,
  QueueCounts,
} from './ingress-view.js';
export type { NodePicker } from './node-picker.js';
export { createNodePicker } from './node-picker.js';
