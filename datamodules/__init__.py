"""DataModules serving real images in [-1, 1] with integer class labels, at every resolution of a pyramid."""
from datamodules.base import GANDataModule
from datamodules.cached import CachedDataModule
from datamodules.celeba import CelebADataModule
from datamodules.cifar10 import CIFAR10DataModule
from datamodules.digits import DigitsDataModule
from datamodules.image_folder import CelebAHQDataModule, ImageFolderDataModule, ImageNetDataModule
from datamodules.lsun import LSUNDataModule

__all__ = ["CIFAR10DataModule", "CachedDataModule", "CelebADataModule", "CelebAHQDataModule", "DigitsDataModule",
           "GANDataModule", "ImageFolderDataModule", "ImageNetDataModule", "LSUNDataModule"]
