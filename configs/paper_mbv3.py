# The recipe of Prokofiev & Sovrasov 2021 (arXiv 2108.07049) on
# MobileNetV3-small, as far as mmtricks has its parts:
#
#   mim train mmpretrain configs/paper_mbv3.py
#
# flip + AugMix(severity 5, width 3), SAM(rho 0.05) around SGD(momentum 0.9,
# wd 5e-4) without bias/norm decay, weight EMA (0.999), an AM-Softmax head
# (additive cosine margin, automatic scale), the LR chosen by an LR range
# test and the epochs by AutoEpochsHook. Differences from the paper: the input
# size is chosen from the data as in auto_mbv3.py (32 px on the bundled
# digits; the paper used 224 px), and no deep mutual learning
# (it trains two models, doubling the cost again: left for an ablation).
# SAM makes every step about twice as expensive as in auto_mbv3.py.
#
# Horizontal flip is the paper's, but drop it for data whose mirror image
# means something else (text, digits).
_base_ = ['./auto_mbv3.py']

num_classes = None  # from the data (auto_mbv3.py)

model = dict(
    head=dict(
        _delete_=True,
        type='AMSoftmaxClsHead',
        num_classes=num_classes,
        in_channels=576,
        # MobileNetV3's own hidden layer, then the cosine layer
        mid_channels=[1024],
        dropout_rate=0.2,
        act_cfg=dict(type='HSwish'),
        margin=0.35,
        scale='auto',
        topk=(1, )),
)

train_pipeline = [
    dict(type='LoadImageIfPath'),
    dict(type='Resize', scale='image_size'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='AugMix', severity=5, width=3),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    _delete_=True,
    type='SAMOptimWrapper',
    rho=0.05,
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)

# The paper's policy: plateau decays of x0.1 (AutoEpochsLR's 'step' mode).
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='AutoEpochsLR', monitor='accuracy/top1', by_epoch=True,
         convert_to_iter_based=True),
]
custom_hooks = [
    dict(type='NumClassesCheckHook'),
    dict(type='LRFinderHook'),
    dict(type='AutoEpochsHook'),
    dict(type='HealthCheckHook'),
    dict(type='PreciseBNStatsHook', num_samples=1024),
    # EMA of the weights (decay 0.999); validation, the best checkpoint and
    # AutoEpochsHook's choice use the EMA weights. The momentum is warmed up
    # (mmtricks WarmupExponentialMovingAverage): a plain 0.999 EMA still
    # holds 0.71 of the initial weights after 345 iterations.
    dict(type='EMAHook', ema_type='WarmupExponentialMovingAverage',
         momentum=0.001),
]
