--[[
  Creates an io-node's inbox stream with a first entry, unless it exists.

  KEYS[1] the inbox stream
  ARGV none
  Returns the first entry's id, or nil when the inbox existed
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
return redis.call('XADD', KEYS[1], '*', 'hello', '1')
