-- GET the URL as given (the hello-world floor).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
