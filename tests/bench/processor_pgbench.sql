-- pgbench script of tests/bench/processor_bench.sh, leg (b): each transaction
-- edits the first message of one random conversation (ids: see
-- processor_data.sql). Variable nconv is passed with -D.
\set c random(1, :nconv)
\set r random(1, 1000000000)
UPDATE support_conversation_messages
   SET body = left(coalesce(body, ''), 200) || ' #' || :r, updated_at = now()
 WHERE id = md5('m' || :c)::uuid;
