# Items and accounts, through nginx: every route, every outcome (sourced by tests/run.sh:
# expect NAME STATUS BODY_PATTERN -- CURL_ARGS..., $url, and the demo accounts below).
admin=(-u admin:admin-password) alice=(-u alice:alice-password)

expect "GET /items lists the demo rows" 200 '"name":"first item"' -- "$url/items"
expect "GET /items/1" 200 '^\{"iid":1,"name":"first item"\}$' -- "$url/items/1"
expect "GET /items/999: 404 JSON" 404 '"error"' -- "$url/items/999"
expect "GET /items/x: 404 (not an int)" 404 '"error"' -- "$url/items/x"
expect "POST /items without credentials: 401" 401 '"error"' -- -X POST -d name=third "$url/items"
expect "POST /items with a wrong password: 401" 401 '"error"' -- -X POST -u alice:wrong -d name=third "$url/items"
expect "POST /items: 201 and its id" 201 '"iid":3' -- -X POST "${alice[@]}" -d name=third "$url/items"
expect "POST /items, the same name: 409" 409 '"error"' -- -X POST "${alice[@]}" -d name=third "$url/items"
expect "POST /items without name: 400" 400 'name' -- -X POST "${alice[@]}" "$url/items"
expect "POST /items with an unknown parameter: 400" 400 'nope' -- -X POST "${alice[@]}" -d name=x -d nope=1 "$url/items"
expect "PUT /items/3: 204" 204 '' -- -X PUT "${alice[@]}" -d name=renamed "$url/items/3"
expect "GET /items/3 after PUT" 200 '"renamed"' -- "$url/items/3"
expect "PUT /items/999: 404" 404 '"error"' -- -X PUT "${alice[@]}" -d name=x "$url/items/999"
expect "DELETE /items/3 as alice: 403" 403 '"error"' -- -X DELETE "${alice[@]}" "$url/items/3"
expect "DELETE /items/3 as admin: 204" 204 '' -- -X DELETE "${admin[@]}" "$url/items/3"
expect "DELETE /items/3 again: 404" 404 '"error"' -- -X DELETE "${admin[@]}" "$url/items/3"
expect "PATCH /items/1: 405" 405 '"error"' -- -X PATCH "${alice[@]}" -d name=x "$url/items/1"
expect "GET /nowhere: 404" 404 '"error"' -- "$url/nowhere"
token=$(curl -s -m 10 "${alice[@]}" "$url/login" | tr -d '"')
expect "GET /login gives a token that authenticates" 200 '^"alice"$' -- -H "Authorization: Bearer $token" "$url/whoami"
expect "GET /whoami with a forged token: 401" 401 '"error"' -- -H "Authorization: Bearer ${token}x" "$url/whoami"
expect "GET /health" 200 '' -- "$url/health"
expect "GET /openapi.json documents /items" 200 '"/items"' -- "$url/openapi.json"

