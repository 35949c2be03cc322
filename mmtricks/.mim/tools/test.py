"""`mim test mmtricks CONFIG ...`: MMPretrain's tools/test.py with mmtricks
imported first, so that `_base_ = ['mmtricks::auto_mbv3.py']` resolves."""
from mmtricks.recipes import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('test.py')
