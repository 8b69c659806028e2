-- Integration SLA per flow (backend, exchange type, direction) and day, from the exported message
-- facts (latest version of each): latency percentiles of the messages done (p50 / p90 / p99,
-- continuous: interpolated between the two nearest values), how many failed, how many needed retries.
WITH msg AS (
    SELECT DISTINCT ON (message_id) message_id, company_id, backend_id, exchange_type, direction, day, state,
           attempts, latency_ms
      FROM {message} ORDER BY message_id, version DESC
)
SELECT company_id, backend_id, exchange_type, direction, day,
       COUNT(*) AS messages,
       SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS done,
       SUM(CASE WHEN state IN ('rejected', 'failed', 'dead') THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS retried,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN state = 'done' THEN CAST(latency_ms AS DOUBLE PRECISION) END) AS p50_ms,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY CASE WHEN state = 'done' THEN CAST(latency_ms AS DOUBLE PRECISION) END) AS p90_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY CASE WHEN state = 'done' THEN CAST(latency_ms AS DOUBLE PRECISION) END) AS p99_ms
  FROM msg
 GROUP BY company_id, backend_id, exchange_type, direction, day
 ORDER BY company_id, backend_id, exchange_type, direction, day
