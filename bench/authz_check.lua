-- POST /authz/v1/check: one Open edX AuthZ check per request, authenticated as a confidential
-- client granted authz:read (`latchkey client create ... --permission authz:read`), with HTTP Basic
-- (the decision comes from the node's in-memory engine and cache).
--   BENCH_AUTH   Authorization header value: "Basic " .. base64(client_id .. ":" .. secret)
--   BENCH_BODY   optional JSON body; default: user^alice viewing lib^lib:MITx:physics
--   BENCH_LUA_DIR  optional: bench/lua, to print the WRKJSON line bench/run.sh parses
-- Example (see docs/design/authz-service.md and the figure's command in BENCHMARKS.md):
--   BENCH_AUTH="Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)" \
--     wrk -t2 -c32 -d15s -s bench/authz_check.lua http://127.0.0.1:8000/authz/v1/check
local dir = os.getenv("BENCH_LUA_DIR")
if dir and dir ~= "" then
  dofile(dir .. "/common.lua")
end

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or
  '{"subject":"user^alice","action":"act^content_libraries.view_library",' ..
  '"scope":"lib^lib:MITx:physics"}'
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
