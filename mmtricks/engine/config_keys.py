"""Names a recipe config uses, written once for the engine's deciders."""

#: A setting left to mmtricks to decide (``image_size``, ``batch_size``,
#: ``monitor``, ``num_workers``, ``compile``...).
AUTO = 'auto'
#: The loaders of the three splits, in the order train, val, test.
SPLIT_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

__all__ = ['AUTO', 'SPLIT_LOADERS']
