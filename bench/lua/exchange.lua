-- The authorization code exchange: every request presents a code never used before, read from the
-- files mint_codes.lua wrote just before the run (codes live 60 s). Thread k of n takes the codes
-- of the minting thread k. A thread whose codes run out sends the authorize request instead (counted
-- in `reseeds`, so that the figure can exclude it) and queues the code it gets.
--   BENCH_CODES  the files' prefix; BENCH_AUTH  the confidential client's Basic credentials;
--   BENCH_REDIRECT_URI  its registered redirect URI; BENCH_AUTHORIZE_PATH  the authorize request
--   (path and query) for a reseed; BENCH_COOKIE  the session cookie, for a reseed
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local queue = {}
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = os.getenv("BENCH_AUTH"),
}
local reseed_headers = { ["Cookie"] = os.getenv("BENCH_COOKIE") }
local prefix = "grant_type=authorization_code&token_type=jwt&redirect_uri="
  .. os.getenv("BENCH_REDIRECT_URI") .. "&code="
local token_path = os.getenv("BENCH_TOKEN_PATH")
local authorize_path = os.getenv("BENCH_AUTHORIZE_PATH")
reseeds = 0

function init(args)
  local f = io.open(os.getenv("BENCH_CODES") .. "." .. id, "r")
  if f then
    for line in f:lines() do
      if line ~= "" then
        table.insert(queue, line)
      end
    end
    f:close()
  end
end

function request()
  local code = table.remove(queue)
  if code == nil then
    reseeds = reseeds + 1
    return wrk.format("GET", authorize_path, reseed_headers)
  end
  return wrk.format("POST", token_path, headers, prefix .. code)
end

function response(status, hdrs, body)
  local location = hdrs["Location"] or hdrs["location"]
  local code = location and location:match("[?&]code=([^&]+)")
  if status == 302 and code then
    table.insert(queue, code)
  end
end
