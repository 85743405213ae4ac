-- POST one fixed form to the URL as given: client_credentials, introspection, password grant.
--   BENCH_BODY  the x-www-form-urlencoded body
--   BENCH_AUTH  optional Authorization header value ("Basic ...")
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
