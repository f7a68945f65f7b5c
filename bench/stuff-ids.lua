-- wrk: GET <prefix>/stuff?ids=<20 random ids in 1..10000> (the peers' "20 rows by ids").
-- Usage: wrk ... -s stuff-ids.lua URL -- PREFIX   (e.g. /api, /peer-go, or "" for a peer direct)
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local reqs, i = {}, 0

function init(args)
   local prefix = args[1] or "/api"
   math.randomseed(os.time() * 100 + (tid or 0))
   for n = 1, 4096 do
      local ids = {}
      for k = 1, 20 do ids[k] = "ids=" .. math.random(1, 10000) end
      reqs[n] = wrk.format("GET", prefix .. "/stuff?" .. table.concat(ids, "&"))
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end
