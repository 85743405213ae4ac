-- Mints authorization codes for exchange.lua, outside the timed run: GET the authorize URL as given
-- (a signed-in browser's session cookie, a client that skips consent) and append the code of each
-- 302 to BENCH_CODES.<thread id>, one per line.
--   BENCH_COOKIE  the session cookie
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
local out

function init(args)
  out = assert(io.open(os.getenv("BENCH_CODES") .. "." .. id, "w"))
end

function response(status, headers, body)
  local location = headers["Location"] or headers["location"]
  local code = location and location:match("[?&]code=([^&]+)")
  if status == 302 and code then
    out:write(code, "\n")
    out:flush()
  end
end
