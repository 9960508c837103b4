-- 0004 — reserved for the expert review loop (issue 8).
SELECT 1;
