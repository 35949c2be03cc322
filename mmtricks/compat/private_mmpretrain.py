"""Every private MMPretrain attribute mmtricks uses, in one place.

See ``docs/private_upstream.md``; ``tests/compat/test_private_upstream.py``
fails loudly when MMPretrain renames one.
"""
HEAD_LOSS_FROM_LOGITS = '_get_loss'


def has_loss_from_logits(head) -> bool:
    return hasattr(head, HEAD_LOSS_FROM_LOGITS)


def head_loss_from_logits(head, logits, data_samples, **kwargs) -> dict:
    """``ClsHead._get_loss``: the head's loss from given logits (distillation
    computes the student's logits itself; ``ClsHead.loss`` takes features)."""
    return getattr(head, HEAD_LOSS_FROM_LOGITS)(logits, data_samples,
                                                **kwargs)
