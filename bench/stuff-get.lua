-- wrk: GET <prefix>/stuff/<random id in 1..10000> (scenario 1 and the hand-written responder).
-- Usage: wrk ... -s stuff-get.lua URL -- PREFIX   (e.g. /api or /baseline)
-- The requests are built once in init(): request() only picks the next one, so wrk's own
-- Lua cost stays out of the measurement as far as possible.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local reqs, i = {}, 0

function init(args)
   local prefix = args[1] or "/api"
   math.randomseed(os.time() * 100 + (tid or 0))
   for n = 1, 8192 do
      reqs[n] = wrk.format("GET", prefix .. "/stuff/" .. math.random(1, 10000))
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end
