"""DataModules serving real images in [-1, 1] with integer class labels."""
from datamodules.base import GANDataModule
from datamodules.cifar10 import CIFAR10DataModule
from datamodules.digits import DigitsDataModule
from datamodules.image_folder import ImageFolderDataModule

__all__ = ["CIFAR10DataModule", "DigitsDataModule", "GANDataModule", "ImageFolderDataModule"]
