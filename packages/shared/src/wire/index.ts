export type { AppNodeRecord } from './app-node-record.js';
export { decodeAppNodeRecord, encodeAppNodeRecord } from './app-node-record.js';
export type { ClientInfo, HandshakeInfo } from './client-info.js';
export { decodeClientInfo } from './client-info.js';
export type {
  Command,
  CommandEnvelope,
  CommandType,
  CustomCommand,
  DecodedEnvelope,
  DisconnectCommand,
  EmitCommand,
  HistoryPosition,
  JoinCommand,
  LeaveCommand,
  ReplyCommand,
  SetDataCommand,
} from './commands.js';
export { COMMAND_VERSION, decodeCommandEnvelope, encodeCommandEnvelope } from './commands.js';
export type { ClientBatch, IngressEvent, IngressJob } from './ingress.js';
export { deadlineMarginMs, decodeIngressJob, INGRESS_VERSION, RESERVED_EVENTS } from './ingress.js';
export type { IoNodeRecord } from './io-node-record.js';
export { decodeIoNodeRecord, encodeIoNodeRecord } from './io-node-record.js';
export type { PresenceChange, PresenceMeta, PresenceReason } from './presence.js';
export {
  checkPresenceMeta,
  decodePresenceChange,
  PRESENCE_EVENT,
  PRESENCE_META_MAX_BYTES,
  PRESENCE_REQUEST_EVENT,
  presenceMemberId,
  userIdOf,
} from './presence.js';
export type { ChannelRequest } from './reserved.js';
export {
  CHANNEL_EVENTS,
  CHANNEL_MESSAGE_EVENT,
  CHANNEL_ROOM_PREFIX,
  CLIENT_REQUEST_EVENTS,
  channelRoom,
  decodeChannelRequest,
  HISTORY_EVENT,
  IDENTIFIED_EVENT,
  LIMITS_EVENT,
  MAX_CHANNEL_LENGTH,
  PUBLISH_EVENT,
  RESERVED_PREFIX,
  SERVER_ERROR_EVENT,
  SUBSCRIBE_EVENT,
  TOKEN_EXPIRING_EVENT,
  TOKEN_REFRESH_EVENT,
  UNSUBSCRIBE_EVENT,
} from './reserved.js';
export { decodeArgs, decodeBinary, encodeArgs, encodeBinary, hasBinary } from './values.js';
