export type { AppNodeRecord } from './app-node-record.js';
export { decodeAppNodeRecord, encodeAppNodeRecord } from './app-node-record.js';
export type { ClientInfo, ClientRef, HandshakeInfo } from './client-info.js';
export { decodeBatchClient, decodeClientInfo, isClientRef } from './client-info.js';
export type {
  Command,
  CommandEnvelope,
  CommandType,
  CustomCommand,
  DecodedEnvelope,
  DisconnectCommand,
  EmitAckCommand,
  EmitCommand,
  FetchSocketsCommand,
  HistoryPosition,
  JoinCommand,
  LeaveCommand,
  ReplyCommand,
  RequestRef,
  RewindSpec,
  Selection,
  SelectionCommand,
  SetDataCommand,
  SocketsDisconnectCommand,
  SocketsJoinCommand,
  SocketsLeaveCommand,
} from './commands.js';
export {
  COMMAND_VERSION,
  decodeCommandEnvelope,
  encodeCommandEnvelope,
  MAX_ACK_TIMEOUT_MS,
  MAX_REWIND,
  requestOf,
  selectionOf,
} from './commands.js';
export type { ClientBatch, IngressEvent, IngressJob } from './ingress.js';
export { deadlineMarginMs, decodeIngressJob, INGRESS_VERSION, RESERVED_EVENTS } from './ingress.js';
export type { IoNodeRecord } from './io-node-record.js';
export { decodeIoNodeRecord, encodeIoNodeRecord } from './io-node-record.js';
export type { OccupancyChange, OccupancyReason } from './occupancy.js';
export { decodeOccupancyChange, OCCUPIED_EVENT, VACATED_EVENT } from './occupancy.js';
export type { PresenceChange, PresenceMeta, PresenceReason } from './presence.js';
export {
  checkPresenceMeta,
  decodePresenceChange,
  PRESENCE_EVENT,
  PRESENCE_META_MAX_BYTES,
  presenceMemberId,
  userIdOf,
} from './presence.js';
export type { AckAnswer, NodeReply, ReplyResult, SocketDescription } from './replies.js';
export { decodeNodeReply, encodeNodeReply, REPLY_VERSION } from './replies.js';
export type { ChannelRequest } from './reserved.js';
export {
  CHANNEL_EVENTS,
  CLIENT_REQUEST_EVENTS,
  channelRoom,
  decodeChannelRequest,
  MAX_CHANNEL_LENGTH,
} from './reserved.js';
export { decodeArgs, decodeBinary, encodeArgs, encodeBinary, hasBinary } from './values.js';
