from .jsd_loss import AugMixJSDLoss, jensen_shannon_divergence

__all__ = ['AugMixJSDLoss', 'jensen_shannon_divergence']
