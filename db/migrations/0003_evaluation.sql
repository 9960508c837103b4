-- 0003 — reserved for evaluation results (issue 7).
SELECT 1;
