-- pgbench script of tests/bench/processor_bench.sh, leg (b): each transaction
-- edits the first message of :per_tx random conversations (ids: see
-- processor_data.sql), so changes/s = tps x per_tx. Variables nconv and
-- per_tx are passed with -D.
\set r random(1, 1000000000)
UPDATE support_conversation_messages
   SET body = left(coalesce(body, ''), 200) || ' #' || :r, updated_at = now()
 WHERE id IN (SELECT md5('m' || (1 + floor(random() * :nconv))::int)::uuid
                FROM generate_series(1, :per_tx));
