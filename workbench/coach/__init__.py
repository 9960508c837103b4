"""workbench.coach: who speaks, when, and what — the coaching layer above the motion analysis.

- ``coaching``: the contract between the loop and a coach (DecisionInput, Utterance, Evidence, Coach).
- ``loop``: the 4 Hz streaming decision loop (``CoachStream``, ``run_coach``) around the streaming tracker.
- ``feedback``: the one feedback path (a clip's feedback is always the chosen coach's).
- ``rule_coach``: the rule-based coach, its per-rep review, ``feedback_at`` and ``classify_utterance``.
- ``neural``: the neural coach's streaming decoder behind the Coach protocol (the network is ``workbench.model``).
- ``loading``: ``load_coach("rule" | "neural"[, config])``.
- ``sessions`` / ``synthetic_sessions`` / ``training_data``: coaching sessions, the synthetic generator with the
  rule coach as teacher, and sessions as the model's training examples.

A coach is reset with a resolved ``Exercise`` (the store's current rules), never a name.
Nothing is imported here: ``biocoach --help`` must not pay for numpy or torch.
"""
