from .am_softmax_head import (AMSoftmaxClsHead, additive_margin_logits,
                              auto_scale, best_case_target_probability,
                              cosine_logits, targets_of_stacked_views)

__all__ = ['AMSoftmaxClsHead', 'additive_margin_logits', 'auto_scale',
           'best_case_target_probability', 'cosine_logits',
           'targets_of_stacked_views']
