"""Batch grading of a class (`harness grade`): parallel, resumable, never overwriting a result.

    harness.batch.run.grade_batch(root, out, lab, mode=..., jobs=..., executor=...)

Modules: layout (output paths, folder names from ids), content (what changed), store (SQLite, one
transaction per submission), task (one submission in a worker), executors (local processes, Dask),
gate (timing fairness across workers), shared (reference values and weights computed once),
progress, status, and the outputs: gradebook (grades.csv), gradescope, junit, index (the cohort
page), similarity (near-copies). Nothing here is carried in a student kit.
"""
