-- Helpers of tests/bench/cdc_throughput.sh: seed rows written BEFORE the
-- replication slots exist (so they are not part of the measured WAL), and
-- the procedures that generate the measured WAL afterwards.
--
-- psql variables: run (a tag unique to this run), conversations (how many
-- conversations the messages are spread over), body_bytes (message body
-- length).

-- Deterministic ids, so updates can find the rows inserted earlier.
CREATE OR REPLACE FUNCTION bench_message_id(run text, n bigint) RETURNS uuid
  LANGUAGE sql IMMUTABLE AS $$ SELECT md5(run || ':m:' || n)::uuid $$;
CREATE OR REPLACE FUNCTION bench_conversation_id(run text, n bigint) RETURNS uuid
  LANGUAGE sql IMMUTABLE AS $$ SELECT md5(run || ':c:' || n)::uuid $$;

-- 1,000 bodies of word-like text (about as compressible as real chat text,
-- unlike repeat()); a message takes one of them plus a unique suffix.
CREATE UNLOGGED TABLE IF NOT EXISTS bench_bodies (n int PRIMARY KEY, body text NOT NULL);
TRUNCATE bench_bodies;
INSERT INTO bench_bodies
SELECT b, left(string_agg(substr(md5(b || ':' || w), 1, 2 + (abs(hashint4(b * 31 + w)) % 8)), ' '),
               :body_bytes - 12)
FROM generate_series(0, 999) b, generate_series(1, (:body_bytes / 4) + 1) w
GROUP BY b;

INSERT INTO subscribers_insights (distinct_id, income, net_worth, investing_activity,
                                  total_copies, total_subscriptions, app_sessions)
SELECT :'run' || '-user-' || u, '50k-100k', '100k-250k', 'weekly', u % 7, u % 3, u % 500
FROM generate_series(0, 999) u
ON CONFLICT DO NOTHING;

INSERT INTO linear_issues (id, identifier, title, state_name, url)
SELECT :'run' || '-issue-' || i, 'SUP-' || i, 'Issue ' || i, 'Todo',
       'https://linear.app/x/issue/SUP-' || i
FROM generate_series(0, 199) i
ON CONFLICT DO NOTHING;

INSERT INTO raw_support_conversations (id, source, external_id, title, description, status,
                                       priority, created_at, updated_at, user_id, tags,
                                       custom_fields, has_linear_ticket, linear_issue_id)
SELECT bench_conversation_id(:'run', c), 'bench-' || :'run', 'ext-' || c,
       'Conversation ' || c, 'Customer asks about order ' || c, 'open', 'normal',
       now(), now(), :'run' || '-user-' || (c % 1000), ARRAY['bench', 'tag' || (c % 10)],
       jsonb_build_object('plan', 'pro', 'n', c), c % 5 = 0,
       CASE WHEN c % 5 = 0 THEN :'run' || '-issue-' || (c % 200) END
FROM generate_series(0, :conversations - 1) c
ON CONFLICT DO NOTHING;

-- Small transactions p_first .. p_first + p_count - 1, each of p_rows message
-- changes: ceil(p_rows/2) inserts of new messages and floor(p_rows/2) updates of
-- messages inserted by the previous transaction (the first one updates its
-- own). Message numbers 0 .. total_small_tx * ceil(p_rows/2) - 1.
CREATE OR REPLACE PROCEDURE bench_small_transactions(run text, p_first int, p_count int,
                                                     p_rows int, conversations int)
LANGUAGE plpgsql AS $$
DECLARE
  nins int := (p_rows + 1) / 2;
  nupd int := p_rows - ((p_rows + 1) / 2);
  t int;
  prev bigint;
BEGIN
  FOR t IN p_first .. p_first + p_count - 1 LOOP
    INSERT INTO support_conversation_messages (id, conversation_id, author_type, body,
                                               created_at, updated_at)
    SELECT bench_message_id(run, t::bigint * nins + g),
           bench_conversation_id(run, (t::bigint * 7 + g / 10) % conversations),
           CASE WHEN g % 3 = 0 THEN 'agent' ELSE 'user' END,
           b.body || ' #' || (t::bigint * nins + g),
           clock_timestamp(), clock_timestamp()
    FROM generate_series(0, nins - 1) g
    JOIN bench_bodies b ON b.n = (t * 13 + g) % 1000;
    prev := CASE WHEN t = 0 THEN 0 ELSE (t - 1)::bigint * nins END;
    IF nupd > 0 THEN
      UPDATE support_conversation_messages m
      SET body = b.body || ' (edited ' || t || ')', updated_at = clock_timestamp()
      FROM bench_bodies b
      WHERE m.id = ANY (ARRAY(SELECT bench_message_id(run, prev + g)
                              FROM generate_series(0, nupd - 1) g))
        AND b.n = (t * 17) % 1000;
    END IF;
    COMMIT;
  END LOOP;
END $$;

-- One transaction of p_count message inserts, numbered from `first_message`.
CREATE OR REPLACE PROCEDURE bench_large_transaction(run text, first_message bigint, p_count int,
                                                    conversations int)
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO support_conversation_messages (id, conversation_id, author_type, body,
                                             created_at, updated_at)
  SELECT bench_message_id(run, first_message + g),
         bench_conversation_id(run, (g / 20) % conversations),
         CASE WHEN g % 3 = 0 THEN 'agent' ELSE 'user' END,
         b.body || ' #' || (first_message + g),
         clock_timestamp(), clock_timestamp()
  FROM generate_series(0, p_count - 1) g
  JOIN bench_bodies b ON b.n = g % 1000;
  COMMIT;
END $$;
