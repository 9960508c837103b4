"""Regenerate the reference trajectories in references/trajectories/ from the rule files.

    .venv/bin/python references/build_references.py

Each exercise's ``reference`` block (references/exercises/*.yaml) documents the rules; the output is
deterministic, so a rebuild that changes a file means a rule changed.
"""

from workbench.exercises.build import write_references

if __name__ == "__main__":
    for path in write_references():
        print(path)
