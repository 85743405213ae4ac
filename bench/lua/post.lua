-- POST one fixed form to the URL as given: client_credentials, introspection, password grant.
--   BENCH_BODY  the x-www-form-urlencoded body
--   BENCH_AUTH  optional Authorization header value ("Basic ...")
--   BENCH_COOKIE  optional Cookie header value (a browser's session or CSRF cookie)
--   BENCH_CSRF  optional X-CSRFToken header value (the double-submitted CSRF token)
--   BENCH_ACCEPT  optional Accept header value (e.g. the signed introspection answer's media type)
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
local csrf = os.getenv("BENCH_CSRF")
if csrf and csrf ~= "" then
  wrk.headers["X-CSRFToken"] = csrf
end
local accept = os.getenv("BENCH_ACCEPT")
if accept and accept ~= "" then
  wrk.headers["Accept"] = accept
end
