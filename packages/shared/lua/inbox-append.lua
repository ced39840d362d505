--[[
  Appends one envelope of commands to an io-node's inbox and publishes it on the inbox's own name (a
  pub/sub channel, not a key) as `<previous entry id> <entry id> <envelope>`. The io-node applies each
  push whose previous id is the last entry it applied; any other one shows a gap (a push it missed),
  which it fills by reading the Stream, the record. NOMKSTREAM: a purged inbox is never recreated.

  KEYS[1] the inbox stream
  ARGV[1] MINID the inbox is trimmed to (approximately)
  ARGV[2] the command envelope
  Returns the entry's id, or nil when the inbox was gone
]]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local id = redis.call('XADD', KEYS[1], 'NOMKSTREAM', 'MINID', '~', ARGV[1], '*', 'c', ARGV[2])
if id then redis.call('PUBLISH', KEYS[1], (last and last[1] or '0-0') .. ' ' .. id .. ' ' .. ARGV[2]) end
return id
