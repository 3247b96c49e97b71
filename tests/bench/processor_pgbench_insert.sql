-- pgbench script of tests/bench/processor_bench.sh, leg (b) with
-- BENCH_CHANGE_KIND=insert: each transaction adds a new message (about
-- 300 bytes, created now, so after every earlier message) to each of
-- :per_tx random conversations (ids: see processor_data.sql), so
-- changes/s = tps x per_tx. Variables nconv and per_tx are passed with -D.
INSERT INTO support_conversation_messages
  (id, conversation_id, author_type, body, created_at, updated_at)
SELECT gen_random_uuid(),
       md5('c' || (1 + floor(random() * :nconv))::int)::uuid,
       'customer',
       'New message ' || md5(random()::text) || ' ' || repeat(md5(random()::text), 8),
       clock_timestamp(), clock_timestamp()
  FROM generate_series(1, :per_tx);
