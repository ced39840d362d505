--[[
  Starts the recovery window of a session held by a node found dead, unless the session moved on.

  KEYS[1] the session hash
  ARGV[1] the dead node's id
  ARGV[2] recovery window, ms
  Returns 1 when the expiry was set, else 0
]]
if redis.call('HGET', KEYS[1], 'node') == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
