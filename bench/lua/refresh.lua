-- Refresh-token rotation: every request presents a refresh token never used before.
--
-- wrk gives a script no per-connection hook, but it sends a connection's next request only after
-- that connection's response (no pipelining), so a per-thread queue is enough: each 200 response's
-- new refresh_token is pushed, each request pops one. The queue starts with the tokens of
-- BENCH_SEEDS (one per line, made by password grants before the run; thread k of n takes lines
-- k, k+n, ...), so no password hashing happens during the run. When one load is split over m wrk
-- processes (bench/cluster.sh, one per node), process s (BENCH_SHARD s of BENCH_SHARDS m) takes
-- lines s*n+k, s*n+k+m*n, ...: no two processes share a token. If the queue is ever empty (a
-- refresh failed), the request is a password grant instead (BENCH_RESEED_BODY) and is counted in
-- `reseeds`, so the figure can exclude it.
--   BENCH_CLIENT_ID  the public client; BENCH_TOKEN_TYPE  "jwt" or ""; BENCH_THREADS  wrk's -t
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local queue = {}
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local prefix = "grant_type=refresh_token&client_id=" .. os.getenv("BENCH_CLIENT_ID")
local token_type = os.getenv("BENCH_TOKEN_TYPE") or ""
if token_type ~= "" then
  prefix = prefix .. "&token_type=" .. token_type
end
prefix = prefix .. "&refresh_token="
local reseed_body = os.getenv("BENCH_RESEED_BODY")
reseeds = 0

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "2")
  local shard = tonumber(os.getenv("BENCH_SHARD") or "0")
  local shards = tonumber(os.getenv("BENCH_SHARDS") or "1")
  local i = 0
  for line in io.lines(os.getenv("BENCH_SEEDS")) do
    if line ~= "" then
      if i % (n * shards) == shard * n + id - 1 then
        table.insert(queue, line)
      end
      i = i + 1
    end
  end
end

function request()
  local token = table.remove(queue)
  if token == nil then
    reseeds = reseeds + 1
    return wrk.format("POST", nil, headers, reseed_body)
  end
  return wrk.format("POST", nil, headers, prefix .. token)
end

function response(status, hdrs, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      table.insert(queue, token)
    end
  end
end
