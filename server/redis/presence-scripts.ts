/**
 * The presence scripts: each changes one topic's member hash and announces the change on the topic's presence
 * channel in one atomic step, so a watcher never hears of a change the hash does not hold (or the reverse).
 * Every script touches one key (`pres:{topic}`), so it runs on one shard of a Redis Cluster. A member's entry
 * is `<node id> <member JSON>`: the node id lets a survivor remove a dead node's members without parsing JSON
 * in Lua; the announcement is `j <member JSON>` or `l <member JSON>`. The publish command is an argument:
 * PUBLISH on one Redis, SPUBLISH (sharded pub/sub) on a cluster, where the channel shares the key's hash tag.
 */
import { Script } from './connection.ts';

/** join. KEYS: member hash. ARGV: client, entry, channel, publish command. */
export const PRESENCE_JOIN = new Script(
  `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local space = string.find(ARGV[2], ' ', 1, true)
redis.call(ARGV[4], ARGV[3], 'j ' .. string.sub(ARGV[2], space + 1))
return 1
`,
  1,
);

/** leave. KEYS: member hash. ARGV: client, channel, publish command. Returns 1 if the client was there. */
export const PRESENCE_LEAVE = new Script(
  `
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local space = string.find(entry, ' ', 1, true)
redis.call(ARGV[3], ARGV[2], 'l ' .. string.sub(entry, space + 1))
return 1
`,
  1,
);

/** purge a dead node's members of one topic. KEYS: member hash. ARGV: node id, channel, publish command. */
export const PRESENCE_PURGE = new Script(
  `
local prefix = ARGV[1] .. ' '
local all = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #all, 2 do
  local entry = all[i + 1]
  if string.sub(entry, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[1], all[i])
    redis.call(ARGV[3], ARGV[2], 'l ' .. string.sub(entry, #prefix + 1))
    removed = removed + 1
  end
end
return removed
`,
  1,
);
