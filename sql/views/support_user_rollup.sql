-- Per subscriber, their support load, for the support team: how many
-- conversations they opened, how many are open now, when any of them last
-- changed, and their titles, newest first (a NULL for an untitled one). A
-- subscriber without conversations has 0, 0, NULL and NULL. A declared view
-- (processor/core/VIEWS.md) in the supported class: root
-- subscribers_insights keyed by distinct_id, child raw_support_conversations
-- through user_id (indexed by raw_support_conversations_user_id_idx). Its
-- table gets latest_title_ids, the conversation ids behind latest_titles
-- (processor/core/compiled_view.h, key arrays).
--
--   build/bin/enrich-processor check-view sql/views/support_user_rollup.sql
CREATE MATERIALIZED VIEW support_user_rollup AS
SELECT
  u.distinct_id,
  COUNT(c.id)                                         AS conversations,
  COUNT(c.id) FILTER (WHERE c.status = 'open')        AS open_conversations,
  MAX(c.updated_at)                                   AS last_activity_at,
  ARRAY_AGG(c.title ORDER BY c.created_at DESC)
    FILTER (WHERE c.id IS NOT NULL)                   AS latest_titles
FROM subscribers_insights u
LEFT JOIN raw_support_conversations c ON u.distinct_id = c.user_id
GROUP BY u.distinct_id;
