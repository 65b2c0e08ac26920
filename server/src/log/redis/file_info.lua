-- What a file is: {meta, owner, pending} (meta nil when unknown).
-- ARGV[1]: its id.
local f = 'flack:file:' .. ARGV[1]
local pending = redis.call('ZSCORE', 'flack:pending', ARGV[1]) and 1 or 0
return {redis.call('HGET', f, 'meta'), redis.call('HGET', f, 'owner'), pending}
