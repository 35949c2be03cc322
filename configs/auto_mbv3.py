# mmtricks' automatic recipe for MobileNetV3-small.
#
#   mim train mmpretrain configs/auto_mbv3.py
#
# trains on the bundled scikit-learn digits set. To train on your own images
# (one sub-folder per class, or train/ val/ test/ sub-folders of them; see
# docs/data.md and `python tools/prepare_data.py --help`):
#
#   mim train mmpretrain configs/auto_mbv3.py --cfg-options data_root=DIR
#
# The classes, the head's size, the input size and the metric the epoch
# policy follows are then read from DIR (DataAwareRunner below logs each
# decision with its reason and stores it in the checkpoints).
_base_ = [
    'mmpretrain::_base_/models/mobilenet_v3/mobilenet_v3_small_imagenet.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmtricks'], allow_failed_imports=False)
# MMEngine's Runner, which first fills the settings below left to the data.
runner_type = 'DataAwareRunner'

# Your images: a folder (one sub-folder per class, or train/ val/ test/
# sub-folders of them). None trains on the bundled set named below.
data_root = None
# 'auto': the largest multiple of 32 not above the images' median short
# side, at least 32 and at most max_image_size (the compute budget); or N.
# Every place that says 'image_size' below takes it (docs/data.md).
image_size = 'auto'
max_image_size = 128
# None: the number of class folders (an explicit value must match them).
num_classes = None
# 'auto': top-1, or macro-F1 when the smallest class has under half the
# images of the largest (top-1 rewards giving up a minority class).
monitor = 'auto'
# 'auto': mixed precision on a GPU (bf16 where it computes it, else fp16),
# fp32 on a CPU; False for fp32 everywhere (docs/speed.md).
amp = 'auto'
# 'auto': 64, halved on a small training split until an epoch has 8
# steps (at least 8 images a batch); or N. Every loader's
# batch_size='batch_size' takes it (docs/data.md).
batch_size = 'auto'
# Images of val/test that duplicate an earlier split's (same bytes, or a
# resized/re-encoded copy): 'warn' (one log line), 'error' (stop), 'drop'
# (leave them out of the later split) or 'off'. Detail in the work dir's
# data_checks.json (docs/data.md, "Duplicates and image statistics").
cross_split_duplicates = 'warn'
# For 2 classes: the threshold on one class's score that replaces argmax,
# chosen on val at the end of training (on the shipped weights) and stored
# in the checkpoint and the deployed IR. 'auto': on imbalanced classes (as
# for `monitor`), the minority class's threshold that maximises val
# macro-F1; dict(cls='defective', min_recall=0.9): the highest threshold
# whose val recall of that class is >= 0.9; None: argmax. More than 2
# classes: argmax (docs/operating_point.md).
operating_point = 'auto'
# Minutes the whole run may take (e.g. --cfg-options time_budget=15), or
# None. Before training, a step is timed at each input size (32 px up to
# the images' own, at most 224); the largest size that still gets the
# epochs the epoch policy needs is chosen, with the epochs that fit, and
# the anneal ends by the deadline (docs/time_budget.md). Overrides
# max_image_size and the epoch cap; an explicit image_size is kept.
time_budget = None
pretrained = ('https://download.openmmlab.com/mmclassification/v0/'
              'mobilenet_v3/mobilenet-v3-small_8xb128_in1k_20221114-bd1bfcde.pth')

model = dict(
    # MMPretrain's ImageClassifier that, built before the data decided
    # num_classes (MMPretrain's get_model or ImageClassificationInferencer
    # given this file), names the config to use: the work dir's.
    type='DataAwareClassifier',
    backbone=dict(init_cfg=[
        dict(type='PretrainedIfAvailable', checkpoint=pretrained,
             prefix='backbone'),
        # Bag of Tricks' zero-gamma: residual blocks start as identities.
        # Skipped (with a warning) when the ImageNet weights were loaded.
        dict(type='ZeroInitLastBN'),
    ]),
    # Label smoothing 0.1 (and zero-gamma, and no bias/norm decay below):
    # the tricks that helped on all three bundled sets in the ablation
    # (README, docs/benchmarks/tricks.md).
    head=dict(
        num_classes=num_classes, topk=(1, ),
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                  mode='original')),
)

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageIfPath'),
    dict(type='Resize', scale='image_size'),
    dict(type='RandomCrop', crop_size='image_size', padding='image_size/8'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageIfPath'),
    dict(type='Resize', scale='image_size'),
    dict(type='PackInputs'),
]

dataset = dict(
    type='FolderOrBundledDataset', data_root=None, bundled='digits',
    image_size='image_size')
train_dataloader = dict(
    batch_size='batch_size',
    num_workers='auto',  # chosen for the machine: docs/speed.md
    persistent_workers=True,
    # No epoch ends on a batch of one or two images for BatchNorm to train
    # on (130 images at batch 64 would end on 2).
    drop_last=True,
    dataset=dict(dataset, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size='batch_size',
    num_workers='auto',  # chosen for the machine: docs/speed.md
    persistent_workers=True,
    dataset=dict(dataset, split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# Images used neither to train nor to choose the weights (val picks the
# epochs and the shipped checkpoint): `mim test` reports held-out top-1.
test_dataloader = dict(
    batch_size='batch_size',
    num_workers='auto',  # chosen for the machine: docs/speed.md
    persistent_workers=True,
    dataset=dict(dataset, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# Top-1 and macro-F1: CheckpointHook(save_best) and AutoEpochsLR follow one
# of them (`monitor` above). Then per-class results, so that imbalanced data
# shows what top-1 hides (MMPretrain's metrics; PerClassReportHook below names the per-class values
# by class and saves the confusion matrix as a PNG in the work dir):
# macro/precision, macro/recall (= balanced accuracy), macro/f1-score;
# class/precision/<class>, class/recall/<class>, class/f1-score/<class>;
# confusion_matrix/result (rows: true class, columns: predicted).
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', average='macro', prefix='macro'),
    dict(type='SingleLabelMetric', average=None, prefix='class'),
    dict(type='ConfusionMatrix'),
]
# Test adds the class's recall/precision at the operating point next to
# argmax's (the stock metrics above read the scores: argmax).
test_evaluator = val_evaluator + [dict(type='OperatingPointMetric')]

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
# A budget cap, not a guess: AutoEpochsLR keeps the LR constant until the
# monitored metric stops improving for 5 epochs, then anneals it (one cosine
# as long as the run so far) and AutoEpochsHook stops training when the anneal ends. Chosen
# on `tools/benchmark.py epochs` (docs/auto_epochs.md). Its `end` is left to
# MMEngine: max_epochs, the cap.
max_epochs = 60
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='AutoEpochsLR', monitor='auto', mode='anneal',
         patience=5, min_anneal=5, by_epoch=True,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=2,
        save_best='auto', rule='greater'),  # 'auto': the monitor above
)
# One console line per validation and test, whatever the number of classes:
# top-1, the monitor ('auto': the one above) and the class recalled worst.
# Every value, per-class ones included, still goes to vis_data/scalars.json
# (and mim test's JSON); the matrices to PerClassReportHook's PNGs.
log_processor = dict(type='ConciseLogProcessor', monitor='auto')
custom_hooks = [
    # A clear error when model.head.num_classes does not fit the dataset.
    dict(type='NumClassesCheckHook'),
    # Initial LR from an LR range test on this data, model and batch size
    # (the optimizer's lr above is only the fallback).
    dict(type='LRFinderHook'),
    # Hands each validation to AutoEpochsLR, stops when it says so, and
    # ships the best checkpoint above as best_auto_epochs.pth.
    dict(type='AutoEpochsHook'),
    # Then chooses `operating_point` on val with those weights and stores
    # it in best_auto_epochs.pth (after AutoEpochsHook: keep it below).
    dict(type='OperatingPointHook'),
    # Stops a run whose loss became NaN; flags validation collapsed to one
    # class, which AutoEpochsLR then does not count as a plateau.
    dict(type='HealthCheckHook'),
    # Honest eval-mode BN statistics for validation and checkpoints: without
    # it MobileNetV3's BN momentum 0.01 can collapse eval to one class.
    dict(type='PreciseBNStatsHook', num_samples=1024),
    # Training split's class balance (one line), per-class metrics named by
    # class, confusion matrix PNGs (confusion_matrix_{val,test}.png).
    dict(type='PerClassReportHook'),
    # NHWC layout while training (x1.44 at 128 px on an AVX2 CPU, neutral
    # at 32 px); checkpoints stay NCHW. Off: enabled=False (docs/speed.md).
    dict(type='ChannelsLastHook'),
]
env_cfg = dict(
    cudnn_benchmark='auto',  # on with CUDA (the recipe fixes the input size)
    dist_cfg=dict(backend=None),  # None: nccl with CUDA, else gloo
)
randomness = dict(seed=0, deterministic=False)
