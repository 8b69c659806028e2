-- OEE per work center and day, from the exported facts (latest version of each fact).
-- Runs unchanged on DuckDB (over the Parquet files) and PostgreSQL (the analytics schema):
-- {operation}, {production_order}, {downtime} are replaced by the fact relations.
--   run time      = wall-clock minutes of the done operations' productive and performance time logs
--   downtime      = minutes of the work center's availability losses that started that day
--   planned time  = run time + downtime
--   availability  = run time / planned time
--   performance   = expected minutes (routing) / run time
--   quality       = good / (good + scrap)   (good: finished quantity of the operations' MOs; scrap: their
--                   finished product scrapped)
--   oee           = availability * performance * quality
WITH op AS (
    SELECT DISTINCT ON (workorder_id) workorder_id, mo_id, company_id, workcenter_id, day, state, productive_min,
           expected_min
      FROM {operation} ORDER BY workorder_id, version DESC
), mo AS (
    SELECT DISTINCT ON (mo_id) mo_id, qty_produced, qty_scrapped FROM {production_order} ORDER BY mo_id, version DESC
), dt AS (
    SELECT DISTINCT ON (time_log_id) time_log_id, company_id, workcenter_id, day, loss_type, duration_min
      FROM {downtime} ORDER BY time_log_id, version DESC
), run AS (
    SELECT op.company_id, op.workcenter_id, op.day,
           SUM(op.productive_min) AS run_min,
           SUM(op.expected_min) AS expected_min,
           SUM(mo.qty_produced) AS good_qty,
           SUM(mo.qty_scrapped) AS scrap_qty
      FROM op JOIN mo ON mo.mo_id = op.mo_id
     WHERE op.state = 'done'
     GROUP BY op.company_id, op.workcenter_id, op.day
), down AS (
    SELECT company_id, workcenter_id, day, SUM(duration_min) AS downtime_min
      FROM dt
     WHERE loss_type = 'availability' AND duration_min IS NOT NULL
     GROUP BY company_id, workcenter_id, day
), joined AS (
    SELECT COALESCE(run.company_id, down.company_id) AS company_id,
           COALESCE(run.workcenter_id, down.workcenter_id) AS workcenter_id,
           COALESCE(run.day, down.day) AS day,
           COALESCE(run.run_min, 0) AS run_min,
           COALESCE(down.downtime_min, 0) AS downtime_min,
           COALESCE(run.expected_min, 0) AS expected_min,
           COALESCE(run.good_qty, 0) AS good_qty,
           COALESCE(run.scrap_qty, 0) AS scrap_qty
      FROM run FULL OUTER JOIN down
        ON down.company_id = run.company_id AND down.workcenter_id = run.workcenter_id AND down.day = run.day
), ratios AS (
    SELECT *, run_min + downtime_min AS planned_min,
           run_min / NULLIF(run_min + downtime_min, 0) AS availability,
           expected_min / NULLIF(run_min, 0) AS performance,
           good_qty / NULLIF(good_qty + scrap_qty, 0) AS quality
      FROM joined
)
SELECT company_id, workcenter_id, day, planned_min, run_min, downtime_min, expected_min, good_qty, scrap_qty,
       availability, performance, quality, availability * performance * quality AS oee
  FROM ratios
 ORDER BY company_id, workcenter_id, day
