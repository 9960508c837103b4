"""workbench.model: the coaching model (issue 6).

- ``coaching``: the contract between the loop and a coach (DecisionInput, Utterance, Evidence, Coach).
- ``loop``: the 4 Hz streaming decision loop (``CoachStream``, ``run_coach``) around the streaming tracker.
- ``rule_coach``: the rule-based coach, ``feedback_at`` and ``classify_utterance`` for the evaluation.
- ``synthetic_sessions``: synthetic tracks with injected faults + the rule coach's feedback, for training/tests.
- ``configuration_coach`` / ``modeling_coach`` / ``stream`` / ``train``: the neural coach.

Nothing is imported here: ``biocoach --help`` must not pay for numpy or torch.
"""
