"""workbench.model: the neural coaching network (paper §3.3–3.6) and nothing else.

- ``configuration_coach``: every size and switch, saved with the weights; the streaming schedule's constants.
- ``backbone`` / ``modeling_coach``: the causal visual backbone, DoF selector, cross-attention fusion, LM glue.
- ``tokens``: the token layout of a session (shared by training and decoding).
- ``fastlm``: the static-KV-cache, int8 decoder used at 4 Hz.
- ``train``: the two training stages on prepared examples (``workbench.coach.training_data`` prepares them).
- ``fasttrain``: the training loss with the frozen head cached, no padding and the LM pass fused (same gradients).

The coach interface, the loop and the rule coach live in ``workbench.coach``, one layer up.
Nothing is imported here: ``biocoach --help`` must not pay for torch.
"""
