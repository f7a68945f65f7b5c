-- name: q^
-- Description.
SELECT ':no', 'it''s :no', "col:no", $$ :no $$, $t$ :no $t$, :a::int, a[1:n] /* :no */ -- :no
FROM t WHERE b = :b AND c = :a;

-- name: r!
UPDATE t SET x = :x;
