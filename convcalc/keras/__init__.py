"""Layer specs with Keras 3's names, arguments and rules, for planning.

Channels last, batch first (``(None, 28, 28, 1)`` is written ``(1, 28, 28, 1)`` or
given by ``Input``). ``'same'`` padding is ``ceil(size / strides)`` for any
stride; BatchNormalization has 2C trainable and 2C non-trainable weights. Recurrent layers (``LSTM``, ``GRU``,
``SimpleRNN``, ``Bidirectional``) take ``(batch, timesteps, features)``.
"""

from __future__ import annotations

from convcalc.keras._base import Input, Layer
from convcalc.keras.conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from convcalc.keras.graph import (
    Add,
    Average,
    Concatenate,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Frozen,
    Functional,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    LayerNormalization,
    Maximum,
    Minimum,
    Multiply,
    Passthrough,
    Subtract,
    UpSampling2D,
)
from convcalc.keras.graph import _Merge as _Merge
from convcalc.keras.graph import _Merging as _Merging
from convcalc.keras.graph import takes_list as takes_list
from convcalc.keras.layers import (
    Activation,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    PReLU,
    Sequential,
)
from convcalc.keras.more import (
    CenterCrop,
    Embedding,
    GroupNormalization,
    Normalization,
    Operation,
    Permute,
    RandomCrop,
    RepeatVector,
    Reshape,
    Resizing,
    UnitNormalization,
    UpSampling1D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from convcalc.keras.recurrent import GRU, LSTM, Bidirectional, SimpleRNN

__all__ = [
    "Activation",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "Input",
    "Layer",
    "MaxPooling2D",
    "SeparableConv2D",
    "Sequential",
    "ZeroPadding2D",
]

__all__ += [
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling3D",
    "Concatenate",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Frozen",
    "Functional",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "LayerNormalization",
    "MaxPooling1D",
    "MaxPooling3D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Passthrough",
    "Subtract",
    "UpSampling2D",
]

__all__ += [
    "CenterCrop",
    "Embedding",
    "GroupNormalization",
    "Normalization",
    "Operation",
    "Permute",
    "RandomCrop",
    "RepeatVector",
    "Reshape",
    "Resizing",
    "UnitNormalization",
    "UpSampling1D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding3D",
]

__all__ += [
    "Conv1DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "PReLU",
    "SeparableConv1D",
]

__all__ += [
    "GRU",
    "LSTM",
    "Bidirectional",
    "SimpleRNN",
]


def __getattr__(name: str) -> object:
    from convcalc._errors import no_attribute

    raise no_attribute(__name__, name, __all__)
