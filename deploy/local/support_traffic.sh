#!/usr/bin/env bash
# Realistic support traffic for the demo, written to the source tables of
# $ENRICH_PG_DSN through one psql session, one small transaction per tick:
# new conversations (with a subscriber's insights and the customer's first
# message), replies from customers and agents, status changes (open ->
# pending -> solved, resolved_at), subscriber insight updates, Linear tickets
# created and linked, Linear state changes, now and then an attachment-only
# message (NULL body).
#
#   deploy/local/support_traffic.sh seed N          N conversations with messages
#   deploy/local/support_traffic.sh run SECONDS [TICKS_PER_SECOND]
#
# The helper function lives in pg_temp: nothing is added to the database.
set -euo pipefail
: "${ENRICH_PG_DSN:?set ENRICH_PG_DSN (eval \"\$(deploy/local/stack.sh env)\")}"

read -r -d '' functions <<'SQL' || true
CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT a[1 + floor(random() * array_length(a, 1))::int] $$;

CREATE FUNCTION pg_temp.new_conversation() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  conv uuid := gen_random_uuid();
  usr text := 'user-' || (1 + floor(random() * 400))::int;
  subject text := pg_temp.pick(ARRAY[
    'Cannot log in after password reset', 'Card payment declined',
    'Export to CSV is empty', 'Copy trading stopped unexpectedly',
    'Subscription charged twice', 'App crashes when opening portfolio',
    'How do I change my email?', 'Withdrawal pending for 3 days',
    'Two-factor code never arrives', 'Dividends missing from statement']);
BEGIN
  INSERT INTO subscribers_insights (distinct_id, income, net_worth,
      investing_activity, total_copies, total_subscriptions, app_sessions)
    VALUES (usr, pg_temp.pick(ARRAY['<25k','25k-50k','50k-100k','100k+']),
            pg_temp.pick(ARRAY['<10k','10k-100k','100k-1M','1M+']),
            pg_temp.pick(ARRAY['low','medium','high']),
            floor(random() * 5)::int, floor(random() * 3)::int, 1)
    ON CONFLICT (distinct_id) DO NOTHING;
  INSERT INTO raw_support_conversations (id, source, external_id, title,
      description, status, priority, created_at, updated_at, user_uuid,
      user_id, assignee_id, tags, custom_fields, raw_data)
    VALUES (conv, pg_temp.pick(ARRAY['zendesk','intercom']),
            'ext-' || conv, subject, 'Reported via in-app chat: ' || subject,
            'open', pg_temp.pick(ARRAY['low','normal','normal','high','urgent']),
            clock_timestamp(), clock_timestamp(), gen_random_uuid(), usr,
            pg_temp.pick(ARRAY['agent-ana','agent-bo','agent-chen', NULL]),
            ARRAY[pg_temp.pick(ARRAY['billing','login','mobile','trading'])],
            jsonb_build_object('plan', pg_temp.pick(ARRAY['free','plus','premium']),
                               'app_version', '4.' || floor(random() * 20)::int),
            jsonb_build_object('channel', 'chat', 'locale', 'en'));
  INSERT INTO support_conversation_messages (id, conversation_id, author_type,
      body, created_at)
    VALUES (gen_random_uuid(), conv, 'user',
            'Hi, ' || lower(subject) || '. ' || pg_temp.pick(ARRAY[
              'Can you help?', 'This is urgent, please.',
              'I already tried reinstalling the app.',
              'It worked fine yesterday.']), clock_timestamp());
END $$;

CREATE FUNCTION pg_temp.reply() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  conv uuid;
  author text := pg_temp.pick(ARRAY['user','agent','agent']);
BEGIN
  SELECT id INTO conv FROM raw_support_conversations
   WHERE status IS DISTINCT FROM 'solved'
   ORDER BY random() LIMIT 1;
  IF conv IS NULL THEN RETURN; END IF;
  INSERT INTO support_conversation_messages (id, conversation_id, author_type,
      body, created_at)
    VALUES (gen_random_uuid(), conv, author,
            CASE WHEN random() < 0.05 THEN NULL  -- attachment only
                 WHEN author = 'agent' THEN pg_temp.pick(ARRAY[
                   'Thanks for reaching out! Could you send a screenshot?',
                   'I have escalated this to our engineering team.',
                   'Could you try logging out and back in?',
                   'The refund has been issued; it takes 3-5 business days.',
                   'We have identified the issue and are working on a fix.'])
                 ELSE pg_temp.pick(ARRAY[
                   'Here is the screenshot.', 'Still not working, sorry.',
                   'Any update on this?', 'That fixed it, thank you!',
                   'I am on iOS 17, app version 4.12.'])
            END, clock_timestamp());
  UPDATE raw_support_conversations SET updated_at = clock_timestamp()
   WHERE id = conv;
END $$;

CREATE FUNCTION pg_temp.change_status() RETURNS void LANGUAGE sql AS $$
  UPDATE raw_support_conversations
     SET status = CASE status WHEN 'open' THEN 'pending' ELSE 'solved' END,
         resolved_at = CASE WHEN status = 'pending' THEN clock_timestamp() END,
         updated_at = clock_timestamp()
   WHERE id = (SELECT id FROM raw_support_conversations
                WHERE status IN ('open', 'pending') ORDER BY random() LIMIT 1)
$$;

CREATE FUNCTION pg_temp.update_insights() RETURNS void LANGUAGE sql AS $$
  UPDATE subscribers_insights
     SET app_sessions = coalesce(app_sessions, 0) + 1,
         total_copies = coalesce(total_copies, 0) + floor(random() * 2)::int,
         updated_at = now()
   WHERE distinct_id = (SELECT distinct_id FROM subscribers_insights
                         ORDER BY random() LIMIT 1)
$$;

CREATE FUNCTION pg_temp.link_linear() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  conv uuid;
  n int;
  issue text;
BEGIN
  SELECT id INTO conv FROM raw_support_conversations
   WHERE NOT has_linear_ticket ORDER BY random() LIMIT 1;
  IF conv IS NULL THEN RETURN; END IF;
  SELECT count(*) + 1 INTO n FROM linear_issues;
  issue := 'lin-' || gen_random_uuid();
  INSERT INTO linear_issues (id, identifier, title, state_name, url)
    VALUES (issue, 'SUP-' || n,
            (SELECT title FROM raw_support_conversations WHERE id = conv),
            'Triage', 'https://linear.app/acme/issue/SUP-' || n);
  UPDATE raw_support_conversations
     SET has_linear_ticket = true, linear_issue_id = issue,
         linear_custom_field_id = 'cf-' || n, updated_at = clock_timestamp()
   WHERE id = conv;
END $$;

CREATE FUNCTION pg_temp.move_linear() RETURNS void LANGUAGE sql AS $$
  UPDATE linear_issues
     SET state_name = CASE state_name WHEN 'Triage' THEN 'In Progress'
                                      WHEN 'In Progress' THEN 'In Review'
                                      ELSE 'Done' END,
         updated_at = now()
   WHERE id = (SELECT id FROM linear_issues WHERE state_name <> 'Done'
                ORDER BY random() LIMIT 1)
$$;

CREATE FUNCTION pg_temp.tick() RETURNS void LANGUAGE plpgsql AS $$
DECLARE r float8 := random();
BEGIN
  IF r < 0.15 THEN PERFORM pg_temp.new_conversation();
  ELSIF r < 0.60 THEN PERFORM pg_temp.reply();
  ELSIF r < 0.75 THEN PERFORM pg_temp.change_status();
  ELSIF r < 0.87 THEN PERFORM pg_temp.update_insights();
  ELSIF r < 0.95 THEN PERFORM pg_temp.link_linear();
  ELSE PERFORM pg_temp.move_linear();
  END IF;
END $$;
SQL

case "${1:-}" in
  seed)
    n=${2:?usage: $0 seed N}
    {
      echo "$functions"
      echo "BEGIN;"
      echo "SELECT pg_temp.new_conversation() FROM generate_series(1, $n);"
      echo "SELECT pg_temp.reply() FROM generate_series(1, $((n * 3)));"
      echo "SELECT pg_temp.link_linear() FROM generate_series(1, $((n / 10)));"
      echo "COMMIT;"
    } | psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 >/dev/null
    ;;
  run)
    seconds=${2:?usage: $0 run SECONDS [TICKS_PER_SECOND]}
    rate=${3:-20}
    {
      echo "$functions"
      end=$((SECONDS + seconds))
      while ((SECONDS < end)); do
        # Each SELECT is its own (autocommit) transaction.
        for ((i = 0; i < rate / 5; i++)); do echo "SELECT pg_temp.tick();"; done
        sleep 0.2
      done
    } | psql "$ENRICH_PG_DSN" -X -q -v ON_ERROR_STOP=1 >/dev/null
    ;;
  *)
    echo "usage: $0 seed N | run SECONDS [TICKS_PER_SECOND]" >&2
    exit 2
    ;;
esac
