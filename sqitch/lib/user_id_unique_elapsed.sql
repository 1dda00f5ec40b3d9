-- Included by lib/user_id_unique_attempt.sql: sets step_ms to the
-- milliseconds since step_start, for the progress lines of the deploy.

SELECT round(extract(epoch FROM clock_timestamp()
                                - :'step_start'::timestamptz) * 1000)
       AS step_ms \gset
