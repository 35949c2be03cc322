# mmtricks' automatic recipe that also chooses the backbone.
#
#   mim train mmpretrain configs/auto.py \
#       --cfg-options data_root=DIR time_budget=15
#
# The candidates are shipped recipes; the chosen one's model, data
# preprocessor and epoch cap replace configs/auto_mbv3.py's (everything else
# is auto_mbv3's). With time_budget (minutes), each candidate is timed at
# each input size on this machine and planned within the budget, and the
# rule (mmtricks/engine/backbone_rule.py) takes a candidate that starts from
# pretrained weights when it gets the epochs its recipe fine-tunes for,
# else one that gets its epochs from scratch (docs/time_budget.md). Without
# a budget: pretrained weights when they are here (EfficientNet-Lite0's ship
# with mmtricks). The choice is logged with its reason and stored in every
# checkpoint: mim test, --resume and tools/deploy.py take it from there.
#
# One backbone, no choice: configs/auto_mbv3.py or
# configs/auto_effnet_lite0.py.
_base_ = ['./auto_mbv3.py']

backbone_candidates = ['auto_mbv3.py', 'auto_effnet_lite0.py']
