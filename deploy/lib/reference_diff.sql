-- Rows of enriched_support_conversations that differ from the contract's
-- reference view enriched_support_conversations_reference, both ways
-- (EXCEPT ALL): 0 when the pipeline has converged. One number.
SELECT
  (SELECT count(*) FROM (
     SELECT * FROM enriched_support_conversations_reference
     EXCEPT ALL
     SELECT id, source, external_id, title, description, status, priority,
       created_at, updated_at, resolved_at, user_uuid, user_id, assignee_id,
       tags, custom_fields, raw_data, synced_at, has_linear_ticket,
       linear_issue_id, linear_custom_field_id, income, net_worth,
       investing_activity, total_copies, total_subscriptions, app_sessions,
       message_count, last_message_at, all_messages, linear_identifier,
       linear_title, linear_state_name, linear_url
     FROM enriched_support_conversations) a)
  + (SELECT count(*) FROM (
     SELECT id, source, external_id, title, description, status, priority,
       created_at, updated_at, resolved_at, user_uuid, user_id, assignee_id,
       tags, custom_fields, raw_data, synced_at, has_linear_ticket,
       linear_issue_id, linear_custom_field_id, income, net_worth,
       investing_activity, total_copies, total_subscriptions, app_sessions,
       message_count, last_message_at, all_messages, linear_identifier,
       linear_title, linear_state_name, linear_url
     FROM enriched_support_conversations
     EXCEPT ALL
     SELECT * FROM enriched_support_conversations_reference) b);
