-- pgbench script of tests/bench/processor_bench.sh, leg (b) with
-- BENCH_CHANGE_KIND=conversation: each transaction updates the status and
-- synced_at of :per_tx random conversations (ids: see processor_data.sql),
-- as a help desk sync does, so changes/s = tps x per_tx. Variables nconv
-- and per_tx are passed with -D.
\set r random(1, 4)
UPDATE raw_support_conversations
   SET status = (ARRAY['open', 'pending', 'solved', 'closed'])[:r],
       synced_at = now()
 WHERE id IN (SELECT md5('c' || (1 + floor(random() * :nconv))::int)::uuid
                FROM generate_series(1, :per_tx));
