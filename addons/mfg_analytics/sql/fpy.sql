-- First-pass yield per product and day, from the exported inspection facts (latest version of each).
-- A lot's first inspection is its earliest (inspected_at, then inspection_id); the day is that
-- inspection's. fpy = lots whose first inspection passed / lots inspected. A re-inspection never
-- turns a failed first pass into a pass.
WITH ins AS (
    SELECT DISTINCT ON (inspection_id) inspection_id, company_id, product_id, lot_id, day, verdict, inspected_at
      FROM {inspection_result} ORDER BY inspection_id, version DESC
), first AS (
    SELECT DISTINCT ON (lot_id) * FROM ins ORDER BY lot_id, inspected_at, inspection_id
), per_day AS (
    SELECT company_id, product_id, day,
           COUNT(*) AS lots_inspected,
           SUM(CASE WHEN verdict = 'pass' THEN 1 ELSE 0 END) AS lots_first_pass
      FROM first
     GROUP BY company_id, product_id, day
)
SELECT company_id, product_id, day, lots_inspected, lots_first_pass,
       CAST(lots_first_pass AS DOUBLE PRECISION) / lots_inspected AS fpy
  FROM per_day
 ORDER BY company_id, product_id, day
