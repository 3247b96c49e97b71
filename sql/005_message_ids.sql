-- 005: all_message_ids, the order behind all_messages.
--
-- Bookkeeping column: the ids of the messages whose bodies all_messages
-- holds, in the same order (ORDER BY created_at, id over the non-NULL
-- bodies), so element i of all_messages is the body of message
-- all_message_ids[i]. It lets the processor apply an edit of one message's
-- body by reading that message alone and replacing its element, instead of
-- re-aggregating every message of the conversation
-- (processor/adapters/enriched_row_writer.h, "body edits"). Every full
-- rewrite sets it together with all_messages; a row whose all_message_ids is
-- NULL or does not match is always rewritten in full.
--
-- Backfill: one UPDATE of the rows whose all_message_ids is still NULL, each
-- from its conversation's messages through the conversation_id index (the
-- same per-conversation LATERAL as the rewrite). It rewrites every row once
-- (about 9 s at 200,000 conversations and 2,000,000 messages on 2 cores);
-- run `migrate` before starting the processors, as for every migration.
-- Conversations without a body-carrying message keep NULL, which the
-- rewrite also gives them.
ALTER TABLE enriched_support_conversations
  ADD COLUMN IF NOT EXISTS all_message_ids uuid[];

UPDATE enriched_support_conversations e
   SET all_message_ids = m.ids
  FROM (SELECT x.id, l.ids
          FROM enriched_support_conversations x
         CROSS JOIN LATERAL (
           SELECT array_agg(sm.id ORDER BY sm.created_at, sm.id)
                    FILTER (WHERE sm.body IS NOT NULL) AS ids
             FROM support_conversation_messages sm
            WHERE sm.conversation_id = x.id) l
         WHERE x.all_message_ids IS NULL AND x.all_messages IS NOT NULL) m
 WHERE e.id = m.id;
