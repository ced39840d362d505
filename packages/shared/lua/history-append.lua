--[[
  Appends one message to a room's history, starting a new epoch when the room has none (a first
  message, or a Redis that lost the room), and trims what is past the length or age limit.

  KEYS[1] the room's history stream
  KEYS[2] the room's history meta hash (epoch, offset)
  ARGV[1] new epoch, used only when the room has none
  ARGV[2] most messages kept (approximate MAXLEN)
  ARGV[3] age limit, ms: messages older than this are trimmed, and both keys expire after it
  ARGV[4] now, ms
  ARGV[5] the message, JSON
  Returns { epoch, offset } of the appended message
]]
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'offset', 0)
end
local offset = redis.call('HINCRBY', KEYS[2], 'offset', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-' .. offset, 't', ARGV[4], 'm', ARGV[5])
local cutoff = tonumber(ARGV[4]) - tonumber(ARGV[3])
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if first and tonumber(first[2][2]) < cutoff then
  local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 32)
  local keep = '0-' .. offset
  for _, entry in ipairs(head) do
    if tonumber(entry[2][2]) >= cutoff then keep = entry[1] break end
  end
  redis.call('XTRIM', KEYS[1], 'MINID', keep)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return { epoch, offset }
