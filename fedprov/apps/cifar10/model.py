"""The models the CIFAR-10 app trains, and their conversion to Flower arrays."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from flwr.app import Array, ArrayRecord
from torch import nn

from fedprov.apps.cifar10.config import MODELS, ModelName
from fedprov.errors import ConfigurationError

__all__ = [
    "MODELS",
    "ModelName",
    "SmallCNN",
    "arrays_from_model",
    "build_model",
    "load_arrays",
]


class SmallCNN(nn.Module):
    """Three 3x3 convolution blocks and two dense layers (about 189k parameters).

    One epoch over 9,000 images took about 12 s on one CPU thread in a
    measurement on a 2-core x86 machine.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of shape (N, 3, 32, 32)."""
        logits: torch.Tensor = self.classifier(self.features(x))
        return logits


def build_model(name: str, *, seed: int = 0, num_classes: int = 10) -> nn.Module:
    """Create a freshly initialised model.

    Parameters
    ----------
    name : {"cnn", "mobilenetv2"}
        ``cnn`` is :class:`SmallCNN`; ``mobilenetv2`` is torchvision's
        MobileNetV2 trained from scratch (no pretrained weights).
    seed : int
        Seed of the weight initialisation, so every process that builds the
        model from the same seed gets the same initial arrays.
    num_classes : int
        Size of the output layer.

    Raises
    ------
    ConfigurationError
        If ``name`` is not one of :data:`MODELS`.
    """
    if name not in MODELS:
        raise ConfigurationError(
            f"model {name!r} is unknown; choose one of {', '.join(MODELS)}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "cnn":
            return SmallCNN(num_classes)
        from torchvision.models import mobilenet_v2

        model: nn.Module = mobilenet_v2(weights=None, num_classes=num_classes)
        return model


def arrays_from_model(model: nn.Module) -> ArrayRecord:
    """Return the model's state dict as an ArrayRecord keyed by parameter name."""
    return ArrayRecord(
        OrderedDict(
            (key, Array(value.detach().cpu().numpy()))
            for key, value in model.state_dict().items()
        )
    )


def load_arrays(model: nn.Module, arrays: ArrayRecord) -> None:
    """Copy the arrays of ``arrays`` into ``model`` (keys must match)."""
    state = OrderedDict(
        (key, torch.from_numpy(np.array(array.numpy(), copy=True)))
        for key, array in arrays.items()
    )
    model.load_state_dict(state, strict=True)
