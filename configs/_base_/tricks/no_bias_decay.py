# No weight decay on normalisation weights/biases and on biases (Bag of
# Tricks, He et al. CVPR 2019, section 3.1). Merge into any config:
#   _base_ = [..., 'mmtricks::_base_/tricks/no_bias_decay.py']
# (after `import mmtricks`, or run with `mim train mmtricks`).
# Same as `optim_wrapper = dict(paramwise_cfg=mmtricks.optim.NO_BIAS_DECAY)`.
optim_wrapper = dict(
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
