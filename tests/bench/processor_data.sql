-- Data generator for tests/bench/processor_bench.sh (psql variables):
--   :conversations :messages :subscribers :issues :fanout :body_bytes
-- Deterministic ids, so the benchmark can address rows without lookups:
--   conversation i (1..:conversations)  id = md5('c' || i)::uuid
--   message k (1..:messages)            id = md5('m' || k)::uuid, belongs to
--                                       conversation 1 + (k - 1) % :conversations
--                                       (so message k = i is conversation i's first)
--   subscriber 'user-' || n             (n in 0..:subscribers-1)
--   'user-hot'                          the user of conversations 1..:fanout
--   Linear issue 'issue-' || n          (n in 0..:issues-1), on ~30% of conversations
-- Bodies are about :body_bytes bytes (varying +-50%), 2% are NULL
-- (attachment-only messages). The contract's indexes already exist: one
-- INSERT ... SELECT per table, like a bulk import into the live tables.
\set ON_ERROR_STOP 1

INSERT INTO subscribers_insights
  (distinct_id, income, net_worth, investing_activity, total_copies,
   total_subscriptions, app_sessions, updated_at)
SELECT 'user-' || n,
       (ARRAY['<25k','25k-50k','50k-100k','100k-250k','250k+'])[1 + n % 5],
       (ARRAY['<10k','10k-100k','100k-1M','1M+'])[1 + (n / 5) % 4],
       (ARRAY['none','low','medium','high'])[1 + (n / 7) % 4],
       n % 97, n % 13, n % 1009,
       now() - (n % 1000) * interval '1 hour'
FROM generate_series(0, :subscribers - 1) AS n;

INSERT INTO subscribers_insights (distinct_id, income, net_worth, investing_activity,
                                  total_copies, total_subscriptions, app_sessions)
VALUES ('user-hot', '100k-250k', '100k-1M', 'high', 1, 1, 1);

INSERT INTO linear_issues (id, identifier, title, state_name, url, updated_at)
SELECT 'issue-' || n, 'SUP-' || n,
       'Customer-reported problem #' || n || ': ' || left(md5(n::text), 20),
       (ARRAY['Backlog','Todo','In Progress','In Review','Done','Canceled'])[1 + n % 6],
       'https://linear.app/acme/issue/SUP-' || n,
       now() - (n % 500) * interval '1 hour'
FROM generate_series(0, :issues - 1) AS n;

INSERT INTO raw_support_conversations
  (id, source, external_id, title, description, status, priority, created_at,
   updated_at, resolved_at, user_uuid, user_id, assignee_id, tags,
   custom_fields, raw_data, synced_at, has_linear_ticket, linear_issue_id,
   linear_custom_field_id)
SELECT md5('c' || i)::uuid,
       CASE WHEN i % 3 = 0 THEN 'intercom' ELSE 'zendesk' END,
       'ext-' || i,
       'Question about my account #' || i,
       'The customer writes: ' || repeat(md5('d' || i), 3),
       (ARRAY['open','pending','solved','closed'])[1 + i % 4],
       (ARRAY['low','normal','high','urgent'])[1 + (i / 4) % 4],
       ts, ts + interval '2 hours',
       CASE WHEN i % 4 >= 2 THEN ts + interval '1 day' END,
       md5('u' || (i % :subscribers))::uuid,
       CASE WHEN i <= :fanout THEN 'user-hot'
            WHEN i % 10 = 0 THEN NULL                 -- anonymous visitor
            ELSE 'user-' || (i * 7 % :subscribers) END,
       'agent-' || (i % 40),
       ARRAY['billing', 'tier-' || (i % 3)],
       jsonb_build_object('plan', (ARRAY['free','plus','pro'])[1 + i % 3], 'csat', i % 5),
       jsonb_build_object('channel', 'email', 'locale', 'en-US', 'seq', i,
                          'via', jsonb_build_object('source', 'web', 'rel', null)),
       ts + interval '3 hours',
       i % 10 < 3,
       CASE WHEN i % 10 < 3 THEN 'issue-' || (i % :issues) END,
       CASE WHEN i % 10 < 3 THEN 'cf-' || (i % 17) END
FROM (SELECT i, timestamptz '2025-01-01' + i * interval '37 seconds' AS ts
      FROM generate_series(1, :conversations) AS i) s;

INSERT INTO support_conversation_messages
  (id, conversation_id, author_type, body, created_at, updated_at)
SELECT md5('m' || k)::uuid,
       md5('c' || c)::uuid,
       CASE WHEN k % 2 = 0 THEN 'customer' ELSE 'agent' END,
       CASE WHEN k % 50 = 7 THEN NULL
            ELSE left('Message ' || k || ': ' || repeat(md5(k::text) || ' ', 40),
                      (:body_bytes / 2) + ((k::bigint * 7919) % (:body_bytes + 1))::int) END,
       ts, ts
FROM (SELECT k, 1 + (k - 1) % :conversations AS c,
             timestamptz '2025-01-01' + (1 + (k - 1) % :conversations) * interval '37 seconds'
               + ((k - 1) / :conversations) * interval '5 minutes' AS ts
      FROM generate_series(1, :messages) AS k) s;

ANALYZE subscribers_insights;
ANALYZE linear_issues;
ANALYZE raw_support_conversations;
ANALYZE support_conversation_messages;
