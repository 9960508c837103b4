"""workbench.review: the expert review loop in Label Studio (paper supplement §8–9).

``proposals`` (LLM-proposed salient joints per clip segment and static/dynamic roles per exercise), ``server``
(start/stop a real ``label-studio``), ``client`` (its REST API, with retries), ``sync`` (push tasks, pull
annotations back as versioned labels), ``labels`` (what analysis and training read: ``accepted_salient_labels``,
``accepted_joint_roles``), ``agreement`` (proposal vs expert precision/recall, Cohen's kappa), ``cli``.
"""
