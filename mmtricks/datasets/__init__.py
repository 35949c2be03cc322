from .bundled_dataset import BundledDataset
from .export import export_bundled
from .folder import DatasetFolderError, scan_class_folders
from .folder_or_bundled_dataset import FolderOrBundledDataset
from .sources import BUNDLED_SOURCES, LabelledImages, load_bundled
from .split import stratified_split

__all__ = [
    'BUNDLED_SOURCES', 'BundledDataset', 'DatasetFolderError',
    'FolderOrBundledDataset', 'LabelledImages', 'export_bundled',
    'load_bundled', 'scan_class_folders', 'stratified_split'
]
