-- The view enrich-processor maintains as the table
-- enriched_support_conversations: the contract's reference SELECT
-- (../shared/contract/enriched_reference.sql), as a declared view
-- (processor/core/VIEWS.md). Compiled into the binary
-- (processor/adapters/CMakeLists.txt); the processor's recompute, fan-out,
-- joined-column rewrite and truncate rebuild statements are compiled from
-- it (processor/core/compiled_view.h). all_message_ids, the key array of
-- all_messages, is named by the rule there.
CREATE MATERIALIZED VIEW enriched_support_conversations AS
SELECT
  c.id, c.source, c.external_id, c.title, c.description,
  c.status, c.priority, c.created_at, c.updated_at, c.resolved_at,
  c.user_uuid, c.user_id, c.assignee_id, c.tags, c.custom_fields,
  c.raw_data, c.synced_at, c.has_linear_ticket, c.linear_issue_id,
  c.linear_custom_field_id,
  u.income, u.net_worth, u.investing_activity,
  u.total_copies, u.total_subscriptions, u.app_sessions,
  COUNT(m.id)::integer                                            AS message_count,
  MAX(m.created_at)                                               AS last_message_at,
  ARRAY_AGG(m.body ORDER BY m.created_at, m.id)
    FILTER (WHERE m.body IS NOT NULL)                             AS all_messages,
  li.identifier  AS linear_identifier,
  li.title       AS linear_title,
  li.state_name  AS linear_state_name,
  li.url         AS linear_url
FROM raw_support_conversations c
LEFT JOIN subscribers_insights u           ON c.user_id = u.distinct_id
LEFT JOIN support_conversation_messages m  ON c.id = m.conversation_id
LEFT JOIN linear_issues li                 ON c.linear_issue_id = li.id
GROUP BY c.id, u.distinct_id, li.id;
