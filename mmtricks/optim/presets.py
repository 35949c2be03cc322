"""One-line ``paramwise_cfg`` presets for MMEngine's optimizer wrapper."""

#: No weight decay on BN/GN/LN weights and biases nor on any bias; conv and
#: linear weights keep the optimizer's ``weight_decay``. He et al., "Bag of
#: Tricks for Image Classification with CNNs", CVPR 2019, section 3.1 (after
#: Jia et al., 2018). Use: ``optim_wrapper = dict(paramwise_cfg=NO_BIAS_DECAY)``
#: or ``_base_`` configs/_base_/tricks/no_bias_decay.py.
NO_BIAS_DECAY = dict(norm_decay_mult=0.0, bias_decay_mult=0.0)
