-- Threads. A reply names its thread's first message (`reply_to`, its seq)
-- and whether it was also sent to the channel; a thread's first message
-- keeps how many replies it has and when the latest came.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN also_in_channel INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at TEXT;
