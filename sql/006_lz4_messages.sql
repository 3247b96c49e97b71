-- 006: compress all_messages with LZ4 instead of pglz.
--
-- all_messages (every body of a conversation, ~3 kB at ten 300-byte
-- messages) is TOASTed, so every full rewrite, append and edit compresses it
-- again. With the default pglz that compression was a large part of the cost
-- of writing rows: copying 200,000 precomputed rows into the table took 9.9
-- s with pglz and 5.8 s with LZ4, same size on disk (266 MB), on the
-- benchmark's data with 2 cores (README.md, "enrich-processor"). Readers see
-- the same values.
--
-- Catalog only: values already stored keep their compression until they are
-- rewritten. The lock is ACCESS EXCLUSIVE but held for a catalog update;
-- lock_timeout keeps a long-running reader from making other readers queue
-- behind it (on timeout nothing changes and `migrate` can be run again).
-- A server built without LZ4 keeps pglz.
DO $migration$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_settings
                  WHERE name = 'default_toast_compression'
                    AND 'lz4' = ANY(enumvals)) THEN
    RAISE NOTICE 'this server has no LZ4 support; all_messages keeps pglz';
    RETURN;
  END IF;
  SET LOCAL lock_timeout = '3s';
  ALTER TABLE enriched_support_conversations
    ALTER COLUMN all_messages SET COMPRESSION lz4;
END
$migration$;
