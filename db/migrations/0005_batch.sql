-- 0005 — reserved for batch jobs (issue 9).
SELECT 1;
