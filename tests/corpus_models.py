"""Real-style torch model definitions, written the way people write them, with small inputs.

``CORPUS`` lists ``(name, factory, inputs)``: ``inputs`` is one shape, a list of shapes (positional inputs) or a
dict of shapes (keyword inputs). Each model is planned by convcalc and compared with torch itself.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm
from torch.utils.checkpoint import checkpoint


# --- int() of a traced size: channel shuffle (ShuffleNet) --------------------------------------------------------
def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batchsize, num_channels, height, width = x.data.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, -1, height, width)


class ShuffleUnit(nn.Module):
    def __init__(self, c: int, groups: int = 2) -> None:
        super().__init__()
        self.groups = groups
        self.conv1 = nn.Conv2d(c, c, 1, groups=groups, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = channel_shuffle(out, self.groups)
        return F.relu(x + self.bn2(self.dw(out)))


class ShuffleNetTiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.units = nn.Sequential(ShuffleUnit(8), ShuffleUnit(8, 4))
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.units(self.stem(x))
        x = x.mean([2, 3])
        return self.fc(x)


class ShuffleV2Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(c // 2, c // 2, 1), nn.ReLU(), nn.Conv2d(c // 2, c // 2, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat((x1, self.branch(x2)), dim=1)
        n, c, h, w = out.shape
        out = out.reshape(int(n), 2, int(c) // 2, int(h), int(w)).permute(0, 2, 1, 3, 4)
        return out.reshape(int(n), int(c), int(h), int(w))


class IntViewNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(x.view(int(x.size(0)), -1))


# --- is_cuda (DCGAN) ----------------------------------------------------------------------------------------------
class DCGANGenerator(nn.Module):
    def __init__(self, ngpu: int = 1, nz: int = 16, ngf: int = 8) -> None:
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output


class DCGANDiscriminator(nn.Module):
    def __init__(self, ngpu: int = 1, ndf: int = 8) -> None:
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)
        return output.view(-1, 1).squeeze(1)


# --- shape asserts (YOLO upsample) ----------------------------------------------------------------------------------
class YoloUpsample(nn.Module):
    def __init__(self, stride: int = 2) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stride = self.stride
        assert x.data.dim() == 4
        b, c, h, w = x.data.size()
        return (
            x.view(b, c, h, 1, w, 1).expand(b, c, h, stride, w, stride).contiguous().view(b, c, h * stride, w * stride)
        )


class YoloHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.up = YoloUpsample()
        self.out = nn.Conv2d(16, 6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.out(torch.cat([self.up(y)[:, :, : x.shape[2], : x.shape[3]], self.up(y)], 1))


class AssertNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 3, "expects RGB"
        return F.interpolate(self.conv(x), scale_factor=2, mode="nearest")


class ShapeAsserts(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dim() == 4
        assert x.shape[2] >= 8
        assert x.shape[2] % 8 == 0, "a multiple of 8"
        assert x.shape[2] == x.shape[3]
        return self.c(x)


# --- dynamic 'same' padding from x.shape --------------------------------------------------------------------------
class DynamicSameConv(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.size()[-2:]
        kh, kw = self.weight.size()[-2:]
        sh, sw = self.stride
        oh, ow = -(-ih // sh), -(-iw // sw)
        pad_h = max((oh - 1) * sh + (kh - 1) * self.dilation[0] + 1 - ih, 0)
        pad_w = max((ow - 1) * sw + (kw - 1) * self.dilation[1] + 1 - iw, 0)
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class DynamicSameNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = DynamicSameConv(3, 8, 3, stride=2)
        self.b = DynamicSameConv(8, 8, 5, stride=2, groups=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(F.relu(self.a(x)))


class CeilSameConv(nn.Conv2d):
    """EfficientNet-PyTorch's ``Conv2dDynamicSamePadding``: ``math.ceil`` of a true division of sizes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.size()[-2:]
        kh, kw = self.weight.size()[-2:]
        sh, sw = self.stride
        oh, ow = math.ceil(ih / sh), math.ceil(iw / sw)
        pad_h = max((oh - 1) * self.stride[0] + (kh - 1) * self.dilation[0] + 1 - ih, 0)
        pad_w = max((ow - 1) * self.stride[1] + (kw - 1) * self.dilation[1] + 1 - iw, 0)
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class CeilSameNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = CeilSameConv(3, 8, 3, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.depthwise = CeilSameConv(8, 8, 5, stride=3, groups=8, bias=False)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.depthwise(F.silu(self.bn(self.stem(x)))))


class MaxPoolSame(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        h, w = x.shape[2:]
        extra_h, extra_w = (2 - h % 2) % 2, (2 - w % 2) % 2
        x = F.pad(x, [0, extra_w, 0, extra_h])
        return F.max_pool2d(x, 3, 2, 1)


# --- modules made inside forward (CIFAR-100 ResNets) ----------------------------------------------------------------
class CifarBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.residual_function = nn.Sequential(
            nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False),
            nn.BatchNorm2d(planes),
            nn.ReLU(inplace=True),
            nn.Conv2d(planes, planes, 3, 1, 1, bias=False),
            nn.BatchNorm2d(planes),
        )
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.ReLU(inplace=True)(self.residual_function(x) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True))
        self.conv2_x = nn.Sequential(CifarBasicBlock(8, 8), CifarBasicBlock(8, 16, 2))
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = self.conv2_x(self.conv1(x))
        output = self.avg_pool(output)
        return self.fc(output.view(output.size(0), -1))


class MadeInForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.MaxPool2d(2)(self.conv(x))
        return nn.Flatten()(nn.Sigmoid()(x))


# --- TorchScript submodules (stochastic depth) ----------------------------------------------------------------------
@torch.jit.script
def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= p
    return x * keep.to(x.dtype) / (1 - p)


class AssertSameShape(nn.Module):
    """Down and up again, asserting the shape came back (``assert y.shape == x.shape``): torch runs it for even
    sizes. Not in CORPUS; here, not in a test module, so that its ``assert`` is Python's own (pytest rewrites the
    asserts of test modules)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 3, 3, 2, 1)
        self.up = nn.ConvTranspose2d(3, 3, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.down(x))
        assert y.shape == x.shape, "mismatch"
        return x + y


class OpaqueShapeConv(nn.Module):
    """Its sizes handed to a library torch.fx cannot trace through (``json`` refuses a proxy): planned by torch's
    machinery. Not in CORPUS; the tests of the fallback itself use it."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = json.loads(json.dumps(list(x.shape)))
        return self.conv(x).view(shape)


class StochasticBlock(nn.Module):
    def __init__(self, c: int, p: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + drop_path(self.conv(x), self.p, self.training)


class StochasticDepthNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(StochasticBlock(4, 0.1), StochasticBlock(4, 0.2))
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))


class ScriptedDropPath(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * (torch.rand_like(x[:, :1, :1, :1]) > self.p).float()


class ScriptDepthNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.drop = torch.jit.script(ScriptedDropPath(0.1))
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = x + self.drop(x)
        return self.fc(x.mean((2, 3)))


class ScriptedAskingDropPath(nn.Module):
    """A drop path that skips its mask when compiled (``torch.jit.is_scripting()`` is True only there)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or torch.jit.is_scripting():
            return x
        return x * (torch.rand_like(x[:, :1, :1, :1]) > self.p).float()


class ScriptAskNet(nn.Module):
    """ScriptDepthNet whose scripted block asks whether it is scripted: its Python is not what TorchScript runs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.drop = torch.jit.script(ScriptedAskingDropPath(0.1))
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = x + self.drop(x)
        return self.fc(x.mean((2, 3)))


# --- EfficientNet's static same padding ---------------------------------------------------------------------------
class Conv2dStaticSamePadding(nn.Conv2d):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        image_size: int = 16,
        **kwargs: Any,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, **kwargs)
        self.stride = self.stride if len(self.stride) == 2 else [self.stride[0]] * 2
        ih = iw = image_size
        kh, kw = self.weight.size()[-2:]
        sh, sw = self.stride
        oh, ow = -(-ih // sh), -(-iw // sw)
        pad_h = max((oh - 1) * self.stride[0] + (kh - 1) * self.dilation[0] + 1 - ih, 0)
        pad_w = max((ow - 1) * self.stride[1] + (kw - 1) * self.dilation[1] + 1 - iw, 0)
        if pad_h > 0 or pad_w > 0:
            self.static_padding = nn.ZeroPad2d((pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        else:
            self.static_padding = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.static_padding(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class EfficientStem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = Conv2dStaticSamePadding(3, 8, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(8, momentum=0.01, eps=1e-3)
        self._depthwise = Conv2dStaticSamePadding(8, 8, 5, stride=1, groups=8, bias=False, image_size=8)
        self._fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self._bn0(self._conv_stem(x)))
        x = self._depthwise(x)
        return self._fc(F.adaptive_avg_pool2d(x, 1).flatten(start_dim=1))


class StaticSameLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.dropout(x, 0.1, self.training), self.weight, self.bias)


class StaticSameMix(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = Conv2dStaticSamePadding(3, 4, 2, stride=2, image_size=8)
        self.fc = StaticSameLinear(64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


# --- a tuple through nn.Sequential ----------------------------------------------------------------------------------
class PairBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, skip = inputs
        return self.conv(x) + skip, skip


class TupleSequential(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.blocks = nn.Sequential(PairBlock(4), PairBlock(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        out, _ = self.blocks((x, x))
        return out


class ListBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [self.fc(xs[0]), xs[1] * 2]


class TupleSequential2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(ListBlock(), ListBlock())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.seq([x, x])
        return a + b


# --- tuple / dict outputs -------------------------------------------------------------------------------------------
class ConvVAE(nn.Module):
    def __init__(self, latent: int = 4) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 4, 2, 1), nn.ReLU())
        self.fc_mu = nn.Linear(8 * 4 * 4, latent)
        self.fc_logvar = nn.Linear(8 * 4 * 4, latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x).view(x.size(0), -1)
        return self.fc_mu(h), self.fc_logvar(h)


class LinearVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(20, 8)
        self.fc21 = nn.Linear(8, 2)
        self.fc22 = nn.Linear(8, 2)
        self.fc3 = nn.Linear(2, 8)
        self.fc4 = nn.Linear(8, 20)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h1 = F.relu(self.fc1(x.view(-1, 20)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


class DictHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        self.cls = nn.Conv2d(4, 2, 1)
        self.box = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.body(x)
        return {"logits": self.cls(f), "boxes": self.box(f)}


class DictFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, 2, 1)
        self.c2 = nn.Conv2d(4, 8, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = OrderedDict()
        out["p1"] = self.c1(x)
        out["p2"] = self.c2(out["p1"])
        return out


# --- several inputs, keyword inputs ---------------------------------------------------------------------------------
class SiameseNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 8))

    def forward(self, input1: torch.Tensor, input2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cnn(input1), self.cnn(input2)


class TwoStream(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rgb = nn.Conv2d(3, 4, 3)
        self.flow = nn.Conv2d(2, 4, 3)
        self.fuse = nn.Conv2d(8, 2, 1)

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.rgb(rgb), self.flow(flow)], 1))


class KwargsForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        scale = kwargs.get("scale", 1.0)
        return self.conv(x) * scale


class KwargsMask(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        y = self.fc(x)
        if mask is not None:
            y = y * mask
        return y


# --- ordinary models ------------------------------------------------------------------------------------------------
class LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class VGGish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in [8, "M", 16, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)]
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(16 * 4 * 4, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).view(x.size(0), -1))


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x1 = self.up(x1)
        diff_y = x2.size()[2] - x1.size()[2]
        diff_x = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNetSmall(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inc = DoubleConv(1, 4)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(4, 8))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(8, 16))
        self.up1 = Up(16, 8)
        self.up2 = Up(8, 4)
        self.outc = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        return self.outc(self.up2(self.up1(x3, x2), x1))


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        self.conv = nn.Sequential(
            nn.Conv2d(inp, hidden, 1, 1, 0, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetBlocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(InvertedResidual(4, 4, 1, 2), InvertedResidual(4, 8, 2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv1(F.relu(self.norm1(x)))], 1)


class DenseBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DenseLayer(4 + 2 * i, 2) for i in range(3)])
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.pool(x)


class SqueezeExcite(nn.Module):
    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, padding=1)
        self.fc1 = nn.Conv2d(c, 2, 1)
        self.fc2 = nn.Conv2d(2, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        return x * s


class FrozenBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        for p in self.backbone.parameters():
            p.requires_grad = False
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).mean((2, 3)))


class Conv1dAudio(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, 4, 9, stride=4), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(4, 8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(-1)


class TiedAutoencoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Linear(12, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(torch.relu(self.enc(x)), self.enc.weight.t())


# --- forms read since: transformer layers, several outputs through a Sequential, heads folded into the batch,
# Tensor.unfold patches, masks built in forward, a transposed convolution asked for a size ----------------------


class HybridViT(nn.Module):
    """A convolutional stem, then a class token, a position embedding and a transformer encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.patch = nn.Conv2d(16, 32, 2, 2)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 32))
        self.pos = nn.Parameter(torch.zeros(1, 17, 32))
        layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(self.stem(x)).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self.encoder(x + self.pos[:, : x.size(1)])
        return self.head(x[:, 0])


class SelectItem(nn.Module):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: Any) -> Any:
        return x[self.index]


class SqueezeIfFlat(nn.Module):
    """``if f.shape[2] == 1: squeeze`` with the height asserted (``asserted``) or not."""

    def __init__(self, asserted: bool = True) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.asserted = asserted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.c(x)
        if self.asserted:
            assert f.shape[2] == 1
        return f.squeeze(2) if f.shape[2] == 1 else f.flatten(1)


class CRNN(nn.Module):
    """Text recognition: convolutions, the height squeezed out, a bidirectional LSTM over the width."""

    def __init__(self, classes: int = 11) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 8, 3, 1, 1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, 1, 1),
            nn.ReLU(True),
            nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(16, 16, (2, 1)),
        )
        self.rnn = nn.Sequential(nn.LSTM(16, 12, bidirectional=True), SelectItem(0), nn.Linear(24, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn(x)
        _, _, h, _ = features.size()
        assert h == 1, "the height of conv must be 1"
        return self.rnn(features.squeeze(2).permute(2, 0, 1))


class HandAttention(nn.Module):
    """Attention written out: heads folded into the batch, bmm, a causal mask built from the length."""

    def __init__(self, dim: int = 16, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        d = c // self.heads
        q, k, v = (t.reshape(b, n, self.heads, d).transpose(1, 2).reshape(b * self.heads, n, d) for t in (q, k, v))
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(d)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        out = torch.bmm(scores.masked_fill(mask, float("-inf")).softmax(-1), v)
        return self.proj(out.view(b, self.heads, n, d).transpose(1, 2).reshape(b, n, c))


class UnfoldPatches(nn.Module):
    """Patches cut with Tensor.unfold, flattened, and embedded by a Linear (a patch embedding without a conv)."""

    def __init__(self, patch: int = 4, dim: int = 12) -> None:
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(3 * patch * patch, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch
        patches = x.unfold(2, p, p).unfold(3, p, p)  # (N, C, H/p, W/p, p, p)
        n, c, gh, gw = patches.shape[:4]
        return self.embed(patches.permute(0, 2, 3, 1, 4, 5).reshape(n, gh * gw, c * p * p))


class UpToSkip(nn.Module):
    """A U-Net step: the transposed convolution asked for the skip connection's size."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1)
        self.out = nn.Conv2d(6, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.cat([x, self.up(self.down(x), output_size=x.size())], 1))


# --- isinstance on traced tensors, in-place methods that reshape, out= -------------------------------------------
class TorchvisionDenseLayer(nn.Module):
    """torchvision's ``_DenseLayer``: its input is a tensor or a list of earlier features."""

    def __init__(self, cin: int = 3, growth: int = 4) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, input: Any) -> torch.Tensor:
        prev_features = [input] if isinstance(input, torch.Tensor) else input
        return self.conv(F.relu(self.norm(torch.cat(prev_features, 1))))


class LevelsNeck(nn.Module):
    """mmdet-style neck: one tensor is one level (``torch.is_tensor``), a parameter is checked as a Parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.lateral = nn.ModuleList([nn.Conv2d(8, 4, 1)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats: Any = self.stem(x)
        if torch.is_tensor(feats):
            feats = [feats]
        if isinstance(self.stem.weight, nn.Parameter) and not isinstance(self.stem.weight, (list, int)):
            feats = [f[:, :, 1:] for f in feats]
        return [conv(f) for conv, f in zip(self.lateral, feats, strict=True)]


class WaveNetSkips(nn.Module):
    """WaveNet's skip sum: it starts as the int 0 and is cropped once it is a tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.dilated = nn.ModuleList([nn.Conv1d(4, 4, 2, dilation=d) for d in (1, 2, 4)])

    def forward(self, x: torch.Tensor) -> Any:
        skip: Any = 0
        for conv in self.dilated:
            x = torch.tanh(conv(x))
            if isinstance(skip, torch.Tensor):
                skip = skip[:, :, -x.size(2) :]
            skip = x + skip
        return skip


class SqueezeInPlaceHead(nn.Module):
    """``logits.squeeze_(-1)`` without ``logits =``, twice in a chain, and ``torch.cat(..., out=buffer)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).mean((2, 3), keepdim=True)
        y.squeeze_(-1).squeeze_(-1)
        both = torch.empty(0)
        torch.cat([y, y], 1, out=both)
        logits = self.fc(both)
        logits.squeeze_(-1)
        return logits


class ForwardFeatures(nn.Module):
    """A classifier whose forward is swapped for its features on the instance (``model.forward = ...``)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, 5)
        self.forward = self.forward_features  # type: ignore[method-assign]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[no-redef]
        return self.head(self.forward_features(x).mean((2, 3)))


def _same_amount(x: Any, kernel: int, stride: int) -> Any:
    """timm's ``get_same_padding``: asks whether the size is a tensor (it is a size, traced or not)."""
    if isinstance(x, torch.Tensor):
        return torch.clamp(((x / stride).ceil() - 1) * stride + kernel - x, min=0)
    return max((math.ceil(x / stride) - 1) * stride + kernel - x, 0)


class TimmConv2dSame(nn.Conv2d):
    """timm's ``Conv2dSame``: TensorFlow's 'same' padding computed in forward from ``x.size()[-2:]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.size()[-2:]
        pad_h = _same_amount(ih, self.kernel_size[0], self.stride[0])
        pad_w = _same_amount(iw, self.kernel_size[1], self.stride[1])
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation, self.groups)


class TimmLinear(nn.Linear):
    """timm's ``Linear``: an ``nn.Linear`` whose own forward calls ``F.linear`` (torchinfo lists it as one call)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return F.linear(input, self.weight.to(dtype=input.dtype), self.bias)
        return F.linear(input, self.weight, self.bias)


class TimmStyleNet(nn.Module):
    """A tf_efficientnet-style stem (``Conv2dSame``) and a timm ``Linear`` classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_stem = TimmConv2dSame(3, 8, 3, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv = TimmConv2dSame(8, 16, 5, stride=2)
        self.classifier = TimmLinear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.silu(self.bn(self.conv_stem(x))))
        return self.classifier(x.mean((2, 3)))


class PatchViT(nn.Module):
    """torchvision's ViT input path: ``torch._assert`` on the image size, a class token, position embeddings."""

    def __init__(self, image_size: int = 16, patch: int = 4, dim: int = 8) -> None:
        super().__init__()
        self.image_size, self.patch = image_size, patch
        self.conv_proj = nn.Conv2d(3, dim, patch, stride=patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, (image_size // patch) ** 2 + 1, dim))
        self.ln = nn.LayerNorm(dim)
        self.heads = nn.Sequential(nn.Linear(dim, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        torch._assert(h == self.image_size, f"Wrong image height! Expected {self.image_size} but got {h}!")
        torch._assert(w == self.image_size, f"Wrong image width! Expected {self.image_size} but got {w}!")
        x = self.conv_proj(x).reshape(n, -1, (h // self.patch) * (w // self.patch)).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        torch._assert(x.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {x.shape}")
        return self.heads(self.ln(x + self.pos_embedding)[:, 0])


class CausalEncoder(nn.Module):
    """A GPT-style encoder: a causal mask built in forward and passed with ``is_causal=True``."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 50)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        return self.head(self.encoder(self.embed(x), mask=mask, is_causal=True))


class Seq2Seq(nn.Module):
    """A translation model's decoder: the target's causal mask given without ``is_causal`` (torch compares the
    mask's values with a causal one to choose its kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 2, 32, batch_first=True), 2)
        self.out = nn.Linear(16, 11)

    def forward(self, target: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(target.size(1))
        return self.out(self.decoder(target, memory, tgt_mask=mask))


class CBAMBlock(nn.Module):
    """CBAM (Woo et al., 2018) as its reference code writes it: channel attention from global average and max pools
    taken with the feature map's own size as kernel and stride, then spatial attention over channel statistics."""

    def __init__(self, channels: int = 16, reduction: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, channels // reduction),
            nn.ReLU(),
            nn.Linear(channels // reduction, channels),
        )
        self.spatial = nn.Conv2d(2, 1, 7, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        avg = F.avg_pool2d(x, (x.size(2), x.size(3)), stride=(x.size(2), x.size(3)))
        mx = F.max_pool2d(x, (x.size(2), x.size(3)), stride=(x.size(2), x.size(3)))
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(mx)).unsqueeze(2).unsqueeze(3).expand_as(x)
        stats = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)
        return x * torch.sigmoid(self.spatial(stats))


class TextCNN(nn.Module):
    """Kim (2014)'s sentence classifier: convolutions of several widths over embedded words, each max-pooled over
    its whole length with ``F.max_pool1d(x, x.size(2))``."""

    def __init__(self, vocab: int = 50, dim: int = 8, widths: tuple[int, ...] = (3, 4, 5)) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.convs = nn.ModuleList(nn.Conv1d(dim, 6, w) for w in widths)
        self.fc = nn.Linear(6 * len(widths), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x.long()).transpose(1, 2)
        pooled = [F.max_pool1d(F.relu(conv(x)), F.relu(conv(x)).size(2)).squeeze(2) for conv in self.convs]
        return self.fc(torch.cat(pooled, 1))


# --- architectures from the bug hunt: each written as its public code writes it -----------------------------------
class LayerNorm2d(nn.Module):
    """ConvNeXt's ``LayerNorm``: ``F.layer_norm`` on channels-last tensors, written out for channels-first ones."""

    def __init__(self, normalized_shape: int, eps: float = 1e-6, data_format: str = "channels_last") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def timm_drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = keep_prob + torch.rand(shape, dtype=x.dtype, device=x.device)
    random_tensor.floor_()
    return x.div(keep_prob) * random_tensor


class DropPath(nn.Module):
    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return timm_drop_path(x, self.drop_prob, self.training)


class ConvNeXtBlock(nn.Module):
    """facebookresearch/ConvNeXt's ``Block``: depthwise 7x7, permute to channels-last, LayerNorm, an inverted MLP of
    Linears, a layer scale ``gamma``, permute back, drop path."""

    def __init__(self, dim: int, drop_path: float = 0.1, layer_scale_init_value: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (
            nn.Parameter(layer_scale_init_value * torch.ones(dim), requires_grad=True)
            if layer_scale_init_value > 0
            else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        x = self.norm(x)
        x = self.pwconv1(x)
        x = self.act(x)
        x = self.pwconv2(x)
        if self.gamma is not None:
            x = self.gamma * x
        x = x.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return input + self.drop_path(x)


class ConvNeXtTiny(nn.Module):
    """facebookresearch/ConvNeXt's ``ConvNeXt``: downsample layers and stages in two ModuleLists, indexed in a loop."""

    def __init__(self, dims: tuple[int, ...] = (8, 16, 32), num_classes: int = 5) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList()
        stem = nn.Sequential(
            nn.Conv2d(3, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0], data_format="channels_first")
        )
        self.downsample_layers.append(stem)
        for i in range(len(dims) - 1):
            downsample_layer = nn.Sequential(
                LayerNorm2d(dims[i], data_format="channels_first"),
                nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2),
            )
            self.downsample_layers.append(downsample_layer)
        self.stages = nn.ModuleList([nn.Sequential(*[ConvNeXtBlock(d) for _ in range(2)]) for d in dims])
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(len(self.stages)):
            x = self.downsample_layers[i](x)
            x = self.stages[i](x)
        return self.head(self.norm(x.mean([-2, -1])))


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, C)


def window_reverse(windows: torch.Tensor, window_size: int, H: int, W: int) -> torch.Tensor:  # noqa: N803
    B = int(windows.shape[0] / (H * W / window_size / window_size))
    x = windows.view(B, H // window_size, W // window_size, window_size, window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


class WindowAttention(nn.Module):
    """microsoft/Swin-Transformer's ``WindowAttention``: a relative position bias table indexed by a buffer."""

    def __init__(self, dim: int, window_size: int, num_heads: int) -> None:
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, (window_size, window_size), num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid([torch.arange(window_size), torch.arange(window_size)], indexing="ij"))
        coords_flatten = torch.flatten(coords, 1)
        relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
        relative_coords = relative_coords.permute(1, 2, 0).contiguous()
        relative_coords[:, :, 0] += window_size - 1
        relative_coords[:, :, 1] += window_size - 1
        relative_coords[:, :, 0] *= 2 * window_size - 1
        self.register_buffer("relative_position_index", relative_coords.sum(-1))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = q @ k.transpose(-2, -1)
        relative_position_bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(
            self.window_size[0] * self.window_size[1], self.window_size[0] * self.window_size[1], -1
        )
        relative_position_bias = relative_position_bias.permute(2, 0, 1).contiguous()
        attn = attn + relative_position_bias.unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, self.num_heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, N, N)
            attn = self.softmax(attn)
        else:
            attn = self.softmax(attn)
        x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
        return self.proj(x)


class SwinTransformerBlock(nn.Module):
    """microsoft/Swin-Transformer's block: cyclic shift with ``torch.roll``, window partition, an attention mask
    buffer built in ``__init__`` for the shifted windows (``None`` when not shifted)."""

    def __init__(
        self, dim: int, input_resolution: tuple[int, int], num_heads: int, window_size: int = 4, shift_size: int = 0
    ) -> None:
        super().__init__()
        self.dim, self.input_resolution = dim, input_resolution
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        if self.shift_size > 0:
            H, W = self.input_resolution
            img_mask = torch.zeros((1, H, W, 1))
            slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
            cnt = 0
            for h in slices:
                for w in slices:
                    img_mask[:, h, w, :] = cnt
                    cnt += 1
            mask_windows = window_partition(img_mask, window_size).view(-1, window_size * window_size)
            attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
            attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)
        else:
            attn_mask = None
        self.register_buffer("attn_mask", attn_mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = self.input_resolution
        B, L, C = x.shape
        assert L == H * W, "input feature has wrong size"
        shortcut = x
        x = self.norm1(x).view(B, H, W, C)
        if self.shift_size > 0:
            shifted_x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
        else:
            shifted_x = x
        x_windows = window_partition(shifted_x, self.window_size).view(-1, self.window_size * self.window_size, C)
        attn_windows = self.attn(x_windows, mask=self.attn_mask).view(-1, self.window_size, self.window_size, C)
        shifted_x = window_reverse(attn_windows, self.window_size, H, W)
        if self.shift_size > 0:
            x = torch.roll(shifted_x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        else:
            x = shifted_x
        x = shortcut + x.view(B, H * W, C)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Swin's ``PatchMerging``: four strided slices of the (B, H, W, C) view concatenated, normed and reduced."""

    def __init__(self, input_resolution: tuple[int, int], dim: int) -> None:
        super().__init__()
        self.input_resolution = input_resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = self.input_resolution
        B, L, C = x.shape
        assert L == H * W, "input feature has wrong size"
        assert H % 2 == 0, f"x size ({H}*{W}) are not even."
        assert W % 2 == 0, f"x size ({H}*{W}) are not even."
        x = x.view(B, H, W, C)
        x0 = x[:, 0::2, 0::2, :]
        x1 = x[:, 1::2, 0::2, :]
        x2 = x[:, 0::2, 1::2, :]
        x3 = x[:, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3], -1).view(B, -1, 4 * C)
        return self.reduction(self.norm(x))


class SwinTiny(nn.Module):
    """Swin's first stage: patch embedding, a regular and a shifted-window block, patch merging, a pooled head."""

    def __init__(self, img_size: int = 32, patch_size: int = 4, dim: int = 16, num_classes: int = 5) -> None:
        super().__init__()
        res = img_size // patch_size
        self.patch_embed = nn.Conv2d(3, dim, patch_size, patch_size)
        self.patch_norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(
            [
                SwinTransformerBlock(dim, (res, res), 2, window_size=4, shift_size=0 if i % 2 == 0 else 2)
                for i in range(2)
            ]
        )
        self.downsample = PatchMerging((res, res), dim)
        self.norm = nn.LayerNorm(2 * dim)
        self.head = nn.Linear(2 * dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_norm(self.patch_embed(x).flatten(2).transpose(1, 2))
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(self.downsample(x))
        return self.head(torch.flatten(F.adaptive_avg_pool1d(x.transpose(1, 2), 1), 1))


class RepVGGBlock(nn.Module):
    """DingXiaoH/RepVGG's block: 3x3 + 1x1 + identity BN branches in training, one re-parameterised 3x3 conv once
    ``switch_to_deploy`` deleted the branches (``hasattr`` decides the forward)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.nonlinearity = nn.ReLU()
        self.rbr_identity = nn.BatchNorm2d(in_channels) if out_channels == in_channels and stride == 1 else None
        self.rbr_dense = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False), nn.BatchNorm2d(out_channels)
        )
        self.rbr_1x1 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "rbr_reparam"):
            return self.nonlinearity(self.rbr_reparam(inputs))
        id_out = 0 if self.rbr_identity is None else self.rbr_identity(inputs)
        return self.nonlinearity(self.rbr_dense(inputs) + self.rbr_1x1(inputs) + id_out)

    def switch_to_deploy(self) -> None:
        conv = self.rbr_dense[0]
        self.rbr_reparam = nn.Conv2d(conv.in_channels, conv.out_channels, 3, conv.stride, 1, bias=True)
        for para in self.parameters():
            para.detach_()
        self.__delattr__("rbr_dense")
        self.__delattr__("rbr_1x1")
        if hasattr(self, "rbr_identity"):
            self.__delattr__("rbr_identity")


class RepVGGMini(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stage = nn.Sequential(RepVGGBlock(3, 8, 2), RepVGGBlock(8, 8), RepVGGBlock(8, 16, 2))
        self.gap = nn.AdaptiveAvgPool2d(output_size=1)
        self.linear = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gap(self.stage(x))
        return self.linear(out.view(out.size(0), -1))


class Bottle2neck(nn.Module):
    """Res2Net's ``Bottle2neck``: ``torch.split`` into scales, a loop that adds the previous scale's output and
    concatenates, the last split passed through (or average-pooled in a 'stage' block)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, base_width: int = 16, scale: int = 4, stype: str = "normal"
    ) -> None:
        super().__init__()
        width = math.floor(planes * (base_width / 64.0))
        self.conv1 = nn.Conv2d(inplanes, width * scale, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.nums = 1 if scale == 1 else scale - 1
        if stype == "stage":
            self.pool = nn.AvgPool2d(kernel_size=3, stride=stride, padding=1)
        self.convs = nn.ModuleList(
            [nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False) for _ in range(self.nums)]
        )
        self.bns = nn.ModuleList([nn.BatchNorm2d(width) for _ in range(self.nums)])
        self.conv3 = nn.Conv2d(width * scale, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * self.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion),
            )
        self.stype, self.scale, self.width = stype, scale, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        spx = torch.split(out, self.width, 1)
        for i in range(self.nums):
            if i == 0 or self.stype == "stage":  # noqa: SIM108
                sp = spx[i]
            else:
                sp = sp + spx[i]
            sp = self.convs[i](sp)
            sp = self.relu(self.bns[i](sp))
            if i == 0:  # noqa: SIM108
                out = sp
            else:
                out = torch.cat((out, sp), 1)
        if self.scale != 1 and self.stype == "normal":
            out = torch.cat((out, spx[self.nums]), 1)
        elif self.scale != 1 and self.stype == "stage":
            out = torch.cat((out, self.pool(spx[self.nums])), 1)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class Res2NetMini(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2, 1)
        self.layer1 = nn.Sequential(Bottle2neck(32, 8, stype="stage"), Bottle2neck(32, 8))
        self.layer2 = Bottle2neck(32, 16, stride=2, stype="stage")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer2(self.layer1(self.stem(x)))


class GhostModule(nn.Module):
    """huawei-noah GhostNet's ``GhostModule``: primary and cheap depthwise features concatenated, then sliced to
    ``oup`` channels (``math.ceil`` makes more than asked)."""

    def __init__(self, inp: int, oup: int, kernel_size: int = 1, ratio: int = 2, dw_size: int = 3) -> None:
        super().__init__()
        self.oup = oup
        init_channels = math.ceil(oup / ratio)
        new_channels = init_channels * (ratio - 1)
        self.primary_conv = nn.Sequential(
            nn.Conv2d(inp, init_channels, kernel_size, 1, kernel_size // 2, bias=False),
            nn.BatchNorm2d(init_channels),
            nn.ReLU(inplace=True),
        )
        self.cheap_operation = nn.Sequential(
            nn.Conv2d(init_channels, new_channels, dw_size, 1, dw_size // 2, groups=init_channels, bias=False),
            nn.BatchNorm2d(new_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        out = torch.cat([x1, x2], dim=1)
        return out[:, : self.oup, :, :]


class GhostNetMini(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ghost1 = GhostModule(3, 15)
        self.ghost2 = GhostModule(15, 21, ratio=3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(21, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.ghost2(self.ghost1(x)))
        return self.fc(x.view(x.size(0), -1))


class FPN(nn.Module):
    """A feature pyramid: lateral 1x1 convs, a top-down loop adding ``F.interpolate(size=lateral.shape[-2:])``
    in place in a list, 3x3 output convs and a head per level."""

    def __init__(self, in_channels: tuple[int, ...] = (8, 16, 32), out_channels: int = 12) -> None:
        super().__init__()
        self.body = nn.ModuleList()
        cin = 3
        for c in in_channels:
            self.body.append(nn.Sequential(nn.Conv2d(cin, c, 3, 2, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)))
            cin = c
        self.lateral_convs = nn.ModuleList([nn.Conv2d(c, out_channels, 1) for c in in_channels])
        self.fpn_convs = nn.ModuleList([nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in in_channels])
        self.heads = nn.ModuleList([nn.Conv2d(out_channels, 5, 1) for _ in in_channels])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.body:
            x = stage(x)
            feats.append(x)
        laterals = [lateral_conv(f) for lateral_conv, f in zip(self.lateral_convs, feats, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            prev_shape = laterals[i - 1].shape[2:]
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=prev_shape, mode="nearest")
        outs = [fpn_conv(lat) for fpn_conv, lat in zip(self.fpn_convs, laterals, strict=True)]
        return [head(o) for head, o in zip(self.heads, outs, strict=True)]


class HRFuse(nn.Module):
    """HRNet's ``HighResolutionModule``: branches, then ``fuse_layers``, a ModuleList of ModuleLists holding
    ``None`` on the diagonal, upsampling to ``x[i].shape`` and chains of strided convs down."""

    def __init__(self, num_channels: tuple[int, ...] = (8, 16, 32)) -> None:
        super().__init__()
        self.num_branches = len(num_channels)
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()) for c in num_channels]
        )
        fuse_layers = []
        for i in range(self.num_branches):
            fuse_layer: list[nn.Module | None] = []
            for j in range(self.num_branches):
                if j > i:
                    fuse_layer.append(
                        nn.Sequential(
                            nn.Conv2d(num_channels[j], num_channels[i], 1, 1, 0, bias=False),
                            nn.BatchNorm2d(num_channels[i]),
                        )
                    )
                elif j == i:
                    fuse_layer.append(None)
                else:
                    conv3x3s = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            conv3x3s.append(
                                nn.Sequential(
                                    nn.Conv2d(num_channels[j], num_channels[i], 3, 2, 1, bias=False),
                                    nn.BatchNorm2d(num_channels[i]),
                                )
                            )
                        else:
                            conv3x3s.append(
                                nn.Sequential(
                                    nn.Conv2d(num_channels[j], num_channels[j], 3, 2, 1, bias=False),
                                    nn.BatchNorm2d(num_channels[j]),
                                    nn.ReLU(True),
                                )
                            )
                    fuse_layer.append(nn.Sequential(*conv3x3s))
            fuse_layers.append(nn.ModuleList(fuse_layer))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(False)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        for i in range(self.num_branches):
            x[i] = self.branches[i](x[i])
        x_fuse = []
        for i in range(len(self.fuse_layers)):
            y = x[0] if i == 0 else self.fuse_layers[i][0](x[0])
            for j in range(1, self.num_branches):
                if i == j:
                    y = y + x[j]
                elif j > i:
                    width_output = x[i].shape[-1]
                    height_output = x[i].shape[-2]
                    y = y + F.interpolate(
                        self.fuse_layers[i][j](x[j]),
                        size=[height_output, width_output],
                        mode="bilinear",
                        align_corners=True,
                    )
                else:
                    y = y + self.fuse_layers[i][j](x[j])
            x_fuse.append(self.relu(y))
        return x_fuse


class HRNetMini(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1)
        self.transition1 = nn.Conv2d(8, 16, 3, 2, 1)
        self.transition2 = nn.Conv2d(16, 32, 3, 2, 1)
        self.stage = HRFuse()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        a = self.stem(x)
        b = self.transition1(a)
        c = self.transition2(b)
        return self.stage([a, b, c])


class ECALayer(nn.Module):
    """BangguWu/ECANet's ``eca_layer``: a 1-D conv across channels of the pooled map, squeeze/transpose there and
    back."""

    def __init__(self, channel: int, k_size: int = 3) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=k_size, padding=(k_size - 1) // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.avg_pool(x)
        y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        y = self.sigmoid(y)
        return x * y.expand_as(x)


class ECANet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 2, 1)
        self.eca = ECALayer(16)
        self.conv2 = nn.Conv2d(16, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.eca(F.relu_(self.conv1(x))))


class MeanShift(nn.Conv2d):
    """EDSR-PyTorch's ``MeanShift``: a 1x1 conv whose weight and bias are set in ``__init__`` and frozen."""

    def __init__(
        self,
        rgb_range: float = 255,
        rgb_mean: tuple[float, ...] = (0.4488, 0.4371, 0.4040),
        rgb_std: tuple[float, ...] = (1.0, 1.0, 1.0),
        sign: int = -1,
    ) -> None:
        super().__init__(3, 3, kernel_size=1)
        std = torch.Tensor(rgb_std)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * torch.Tensor(rgb_mean) / std
        for p in self.parameters():
            p.requires_grad = False


class EDSRResBlock(nn.Module):
    def __init__(self, n_feats: int, res_scale: float = 0.1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_feats, n_feats, 3, padding=1), nn.ReLU(True), nn.Conv2d(n_feats, n_feats, 3, padding=1)
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x).mul(self.res_scale)
        res += x
        return res


class Upsampler(nn.Sequential):
    """EDSR's ``Upsampler``: conv + ``PixelShuffle(2)`` per factor of 2, or one ``PixelShuffle(3)``."""

    def __init__(self, scale: int, n_feats: int) -> None:
        m: list[nn.Module] = []
        if (scale & (scale - 1)) == 0:
            for _ in range(int(math.log(scale, 2))):
                m.append(nn.Conv2d(n_feats, 4 * n_feats, 3, padding=1))
                m.append(nn.PixelShuffle(2))
        elif scale == 3:
            m.append(nn.Conv2d(n_feats, 9 * n_feats, 3, padding=1))
            m.append(nn.PixelShuffle(3))
        else:
            raise NotImplementedError
        super().__init__(*m)


class EDSR(nn.Module):
    """EDSR-PyTorch's ``EDSR``: frozen mean shifts around a head, residual body (``res += x``) and upsampling tail."""

    def __init__(self, n_feats: int = 8, n_resblocks: int = 2, scale: int = 2) -> None:
        super().__init__()
        self.sub_mean = MeanShift(sign=-1)
        self.add_mean = MeanShift(sign=1)
        self.head = nn.Sequential(nn.Conv2d(3, n_feats, 3, padding=1))
        body: list[nn.Module] = [EDSRResBlock(n_feats) for _ in range(n_resblocks)]
        body.append(nn.Conv2d(n_feats, n_feats, 3, padding=1))
        self.body = nn.Sequential(*body)
        self.tail = nn.Sequential(Upsampler(scale, n_feats), nn.Conv2d(n_feats, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sub_mean(x)
        x = self.head(x)
        res = self.body(x)
        res += x
        x = self.tail(res)
        return self.add_mean(x)


class ESPCN(nn.Module):
    """ESPCN (Shi et al., 2016) as the PyTorch super-resolution example writes it: tanh convs and a
    ``PixelShuffle``; the result is also ``PixelUnshuffle``-d back."""

    def __init__(self, upscale_factor: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, upscale_factor**2, 3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self.pixel_unshuffle = nn.PixelUnshuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        y = torch.sigmoid(self.pixel_shuffle(self.conv3(x)))
        return y, self.pixel_unshuffle(y)


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II basis, one frequency a row."""
    k = torch.arange(n, dtype=torch.float32)[:, None]
    i = torch.arange(n, dtype=torch.float32)[None, :]
    basis = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    basis[0] /= math.sqrt(2.0)
    return basis


class SpectralConv2d(nn.Module):
    """neuraloperator's FNO ``SpectralConv2d`` on a real (cosine) spectrum: the transform a matmul with basis
    buffers, the kept modes mixed by ``einsum`` and written into a zeros tensor with ``out_ft[...] = ...``."""

    def __init__(self, in_channels: int, out_channels: int, modes1: int, modes2: int, size: int = 12) -> None:
        super().__init__()
        self.out_channels, self.modes1, self.modes2 = out_channels, modes1, modes2
        self.scale = 1 / (in_channels * out_channels)
        self.weights1 = nn.Parameter(self.scale * torch.rand(in_channels, out_channels, modes1, modes2))
        self.weights2 = nn.Parameter(self.scale * torch.rand(in_channels, out_channels, modes1, modes2))
        self.register_buffer("dct_h", dct_matrix(size))
        self.register_buffer("dct_w", dct_matrix(size))

    def compl_mul2d(self, input: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bixy,ioxy->boxy", input, weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batchsize = x.shape[0]
        x_ft = self.dct_h @ x @ self.dct_w.T
        out_ft = torch.zeros(batchsize, self.out_channels, x.size(-2), x.size(-1), dtype=x.dtype, device=x.device)
        out_ft[:, :, : self.modes1, : self.modes2] = self.compl_mul2d(
            x_ft[:, :, : self.modes1, : self.modes2], self.weights1
        )
        out_ft[:, :, -self.modes1 :, : self.modes2] = self.compl_mul2d(
            x_ft[:, :, -self.modes1 :, : self.modes2], self.weights2
        )
        return self.dct_h.T @ out_ft @ self.dct_w


class FNO2d(nn.Module):
    """neuraloperator's ``FNO2d``: a lift on channels-last inputs, spectral conv + 1x1 conv, a projection."""

    def __init__(self, modes: int = 4, width: int = 8) -> None:
        super().__init__()
        self.fc0 = nn.Linear(3, width)
        self.conv0 = SpectralConv2d(width, width, modes, modes)
        self.w0 = nn.Conv2d(width, width, 1)
        self.fc1 = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc0(x).permute(0, 3, 1, 2)
        x = F.gelu(self.conv0(x) + self.w0(x))
        return self.fc1(x.permute(0, 2, 3, 1))


class Chomp1d(nn.Module):
    def __init__(self, chomp_size: int) -> None:
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : -self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    """locuslab/TCN's ``TemporalBlock``: ``weight_norm``-ed dilated Conv1d with causal padding chomped off, each conv
    held as ``self.conv1`` and in ``self.net``. (torch's current ``parametrizations.weight_norm``: a module under the
    old hook-based one cannot be deep-copied, which the reader-cache tests do.)"""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        kernel_size: int,
        stride: int,
        dilation: int,
        padding: int,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.conv1 = weight_norm(
            nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, padding=padding, dilation=dilation)
        )
        self.chomp1 = Chomp1d(padding)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = weight_norm(
            nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride, padding=padding, dilation=dilation)
        )
        self.chomp2 = Chomp1d(padding)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.net = nn.Sequential(
            self.conv1, self.chomp1, self.relu1, self.dropout1, self.conv2, self.chomp2, self.relu2, self.dropout2
        )
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TCN(nn.Module):
    """locuslab/TCN's sequence model: stacked temporal blocks, dilation doubling, a Linear on the last step."""

    def __init__(
        self,
        input_size: int = 4,
        num_channels: tuple[int, ...] = (8, 8, 16),
        kernel_size: int = 3,
        output_size: int = 3,
    ) -> None:
        super().__init__()
        layers = []
        for i in range(len(num_channels)):
            dilation_size = 2**i
            in_channels = input_size if i == 0 else num_channels[i - 1]
            layers += [
                TemporalBlock(
                    in_channels, num_channels[i], kernel_size, 1, dilation_size, (kernel_size - 1) * dilation_size
                )
            ]
        self.network = nn.Sequential(*layers)
        self.linear = nn.Linear(num_channels[-1], output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y1 = self.network(x.transpose(1, 2))
        return self.linear(y1[:, :, -1])


class CRNNGRU(nn.Module):
    """A CRNN with the height pooled away (``AdaptiveAvgPool2d((1, None))``), a two-layer bidirectional GRU, a
    projected LSTM, and the time steps folded into the batch for the classifier."""

    def __init__(self, nclass: int = 11) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 8, 3, 1, 1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 3, 1, 1),
            nn.ReLU(True),
            nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(16, 16, 3, 1, 1),
            nn.AdaptiveAvgPool2d((1, None)),
        )
        self.rnn = nn.GRU(16, 12, num_layers=2, bidirectional=True)
        self.lstm = nn.LSTM(24, 16, proj_size=8)
        self.fc = nn.Linear(8, nclass)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.cnn(x)
        _, _, h, _ = conv.size()
        assert h == 1, "the height of conv must be 1"
        conv = conv.squeeze(2).permute(2, 0, 1)  # [w, b, c]
        recurrent, _ = self.rnn(conv)
        recurrent, _ = self.lstm(recurrent)
        T, b, h = recurrent.size()
        output = self.fc(recurrent.view(T * b, h))
        return output.view(T, b, -1).log_softmax(2)


class DinoViT(nn.Module):
    """facebookresearch/dino's ViT input: class token, position embeddings bicubic-interpolated to the image's
    patch grid (``interpolate_pos_encoding``, which returns them as they are for the trained size)."""

    def __init__(
        self,
        img_size: int = 16,
        patch_size: int = 4,
        embed_dim: int = 24,
        depth: int = 2,
        num_heads: int = 2,
        num_classes: int = 5,
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.patch_embed = nn.Conv2d(3, embed_dim, patch_size, patch_size)
        num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.pos_drop = nn.Dropout(0.1)
        layer = nn.TransformerEncoderLayer(
            embed_dim, num_heads, embed_dim * 2, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"
        )
        self.blocks = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(embed_dim), enable_nested_tensor=False)
        self.head = nn.Linear(embed_dim, num_classes)

    def interpolate_pos_encoding(self, x: torch.Tensor, w: int, h: int) -> torch.Tensor:
        npatch = x.shape[1] - 1
        N = self.pos_embed.shape[1] - 1
        if npatch == N and w == h:
            return self.pos_embed
        class_pos_embed = self.pos_embed[:, 0]
        patch_pos_embed = self.pos_embed[:, 1:]
        dim = x.shape[-1]
        w0 = w // self.patch_size
        h0 = h // self.patch_size
        M = int(math.sqrt(N))
        patch_pos_embed = F.interpolate(
            patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
            size=(w0, h0),
            mode="bicubic",
            align_corners=False,
        )
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, w, h = x.shape
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls_tokens = self.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = x + self.interpolate_pos_encoding(x, w, h)
        x = self.blocks(self.pos_drop(x))
        return self.head(x[:, 0])


class MixerBlock(nn.Module):
    """MLP-Mixer's block: token mixing on the transposed tokens, then channel mixing."""

    def __init__(self, num_tokens: int, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mix = nn.Sequential(
            nn.Linear(num_tokens, 2 * num_tokens), nn.GELU(), nn.Linear(2 * num_tokens, num_tokens)
        )
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mix = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mix(self.norm2(x))


class MLPMixer(nn.Module):
    def __init__(self, patch_size: int = 4, num_tokens: int = 16, dim: int = 24, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, dim, patch_size, patch_size)
        self.blocks = nn.Sequential(*[MixerBlock(num_tokens, dim) for _ in range(2)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


class LoRALinear(nn.Module):
    """A LoRA wrapper (as in microsoft/LoRA or hand-rolled peft): the base Linear kept, ``x @ A.T @ B.T`` added."""

    def __init__(self, base: nn.Linear, r: int = 2, alpha: int = 4) -> None:
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.zeros(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling


class SelfAttentionBlock(nn.Module):
    """A Hugging Face-style attention block: ``q_proj``/``k_proj``/``v_proj``/``o_proj``, heads in a view."""

    def __init__(self, dim: int = 16, num_heads: int = 2) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.o_proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        bsz, q_len, _ = hidden_states.size()
        shape = (bsz, q_len, self.num_heads, self.head_dim)
        q = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        k = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        v = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        attn = torch.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim), dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(bsz, q_len, -1)
        hidden_states = hidden_states + self.o_proj(out)
        return hidden_states + self.mlp(self.norm(hidden_states))


class LoRAEncoder(nn.Module):
    """LoRA fine-tuning: every parameter frozen but the ``lora_`` ones, and ``q_proj``/``v_proj`` replaced by
    ``LoRALinear`` wrappers after the model was built (peft's default targets)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([SelfAttentionBlock() for _ in range(2)])
        self.classifier = nn.Linear(16, 3)
        for layer in self.layers:
            layer.q_proj = LoRALinear(layer.q_proj)
            layer.v_proj = LoRALinear(layer.v_proj)
        for n, p in self.named_parameters():
            if "lora_" not in n:
                p.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x[:, 0])


class RNNModel(nn.Module):
    """pytorch/examples' word language model: embedding, LSTM, decoder, ``tie_weights`` making the decoder hold
    the embedding's weight."""

    def __init__(
        self, ntoken: int = 30, ninp: int = 8, nhid: int = 8, nlayers: int = 2, tie_weights: bool = True
    ) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(0.5)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.5)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.nhid, self.nlayers = nhid, nlayers

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        emb = self.drop(self.encoder(input.long()))
        output, _ = self.rnn(emb)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1)


class CheckpointedHeads(nn.Module):
    """A fine-tuning setup: ``backbone.requires_grad_(False)``, blocks run through ``torch.utils.checkpoint``, and
    task heads in a ModuleDict chosen by key (one head never called)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1)
        )
        self.backbone.requires_grad_(False)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()) for _ in range(2)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(16, 5), "reg": nn.Linear(16, 4), "unused": nn.Linear(16, 100)})
        self.task = "cls"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.backbone(x)
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        x = x.mean(dim=(-2, -1))
        return self.heads[self.task](x), self.heads["reg"](x)


class RetinaHead(nn.Module):
    """A RetinaNet head: the same classification and box towers run on every pyramid level, each output permuted
    to (N, H*W*A, K) and concatenated over levels."""

    def __init__(self, in_channels: int = 16, num_anchors: int = 3, num_classes: int = 4) -> None:
        super().__init__()
        self.num_anchors, self.num_classes = num_anchors, num_classes
        cls_tower: list[nn.Module] = []
        for _ in range(2):
            cls_tower += [nn.Conv2d(in_channels, in_channels, 3, padding=1), nn.ReLU()]
        cls_tower.append(nn.Conv2d(in_channels, num_anchors * num_classes, 3, padding=1))
        self.cls_logits = nn.Sequential(*cls_tower)
        self.bbox_reg = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(in_channels, num_anchors * 4, 3, padding=1),
        )

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        all_cls, all_box = [], []
        for f in features:
            N, _, H, W = f.shape
            cls = self.cls_logits(f).view(N, self.num_anchors, self.num_classes, H, W)
            all_cls.append(cls.permute(0, 3, 4, 1, 2).reshape(N, -1, self.num_classes))
            box = self.bbox_reg(f).view(N, -1, 4, H, W)
            all_box.append(box.permute(0, 3, 4, 1, 2).reshape(N, -1, 4))
        return torch.cat(all_cls, dim=1), torch.cat(all_box, dim=1)


class RetinaMini(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c3 = nn.Conv2d(3, 16, 3, 2, 1)
        self.c4 = nn.Conv2d(16, 16, 3, 2, 1)
        self.c5 = nn.Conv2d(16, 16, 3, 2, 1)
        self.head = RetinaHead()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p3 = self.c3(x)
        p4 = self.c4(p3)
        p5 = self.c5(p4)
        return self.head([p3, p4, p5])


def frozen_retina() -> RetinaMini:
    """The detector frozen whole with ``requires_grad_(False)`` and only the classifier's last bias trained again."""
    model = RetinaMini()
    model.requires_grad_(False)
    model.head.cls_logits[-1].bias.requires_grad_(True)
    return model


def repvgg_deploy() -> RepVGGMini:
    """RepVGG's ``repvgg_model_convert``: every block switched to its deploy form."""
    model = RepVGGMini()
    for module in model.modules():
        if hasattr(module, "switch_to_deploy"):
            module.switch_to_deploy()
    return model.eval()


def yolo_autopad(k: int, p: int | None = None) -> int:
    return k // 2 if p is None else p


class YoloConv(nn.Module):
    """ultralytics/yolov5's ``Conv``: conv, batch norm, SiLU (or the activation given, or none)."""

    def __init__(
        self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None, g: int = 1, act: Any = True
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, yolo_autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU() if act is True else (act if isinstance(act, nn.Module) else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Focus(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1) -> None:
        super().__init__()
        self.conv = YoloConv(c1 * 4, c2, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1))


class YoloBottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = YoloConv(c1, c_, 1, 1)
        self.cv2 = YoloConv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C3(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, e: float = 0.5) -> None:
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = YoloConv(c1, c_, 1, 1)
        self.cv2 = YoloConv(c1, c_, 1, 1)
        self.cv3 = YoloConv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(YoloBottleneck(c_, c_, shortcut, e=1.0) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = YoloConv(c1, c_, 1, 1)
        self.cv2 = YoloConv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class YoloDetect(nn.Module):
    """yolov5's ``Detect``: ``x[i] = self.m[i](x[i])`` into the list it is given, grids cached in Python lists,
    the decoded boxes and the raw maps returned in inference."""

    def __init__(self, nc: int = 3, anchors: Any = (), ch: Any = ()) -> None:
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.grid = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid = [torch.empty(0) for _ in range(self.nl)]
        self.register_buffer("anchors", torch.tensor(anchors).float().view(self.nl, -1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.stride = torch.tensor([8.0, 16.0, 32.0])

    def forward(self, x: list[torch.Tensor]) -> Any:
        z = []
        for i in range(self.nl):
            x[i] = self.m[i](x[i])
            bs, _, ny, nx = x[i].shape
            x[i] = x[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if not self.training:
                if self.grid[i].shape[2:4] != x[i].shape[2:4]:
                    self.grid[i], self.anchor_grid[i] = self._make_grid(nx, ny, i)
                xy, wh, conf = x[i].sigmoid().split((2, 2, self.nc + 1), 4)
                xy = (xy * 2 + self.grid[i]) * self.stride[i]
                wh = (wh * 2) ** 2 * self.anchor_grid[i]
                y = torch.cat((xy, wh, conf), 4)
                z.append(y.view(bs, self.na * nx * ny, self.no))
        return x if self.training else (torch.cat(z, 1), x)

    def _make_grid(self, nx: int = 20, ny: int = 20, i: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.anchors[i].device
        t = self.anchors[i].dtype
        shape = 1, self.na, ny, nx, 2
        y, x = torch.arange(ny, device=d, dtype=t), torch.arange(nx, device=d, dtype=t)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
        anchor_grid = (self.anchors[i] * self.stride[i]).view((1, self.na, 1, 1, 2)).expand(shape)
        return grid, anchor_grid


class YoloV5Mini(nn.Module):
    """A YOLOv5 in small: Focus stem, C3 stages, SPPF, a PAN-style top-down path and the ``Detect`` head."""

    def __init__(self) -> None:
        super().__init__()
        self.focus = Focus(3, 8, 3)
        self.down1 = YoloConv(8, 16, 3, 2)
        self.c3_1 = C3(16, 16, 1)
        self.down2 = YoloConv(16, 32, 3, 2)
        self.c3_2 = C3(32, 32, 2)
        self.down3 = YoloConv(32, 32, 3, 2)
        self.sppf = SPPF(32, 32)
        self.up = nn.Upsample(None, 2, "nearest")
        self.head1 = C3(64, 32, 1, False)
        self.head2 = C3(48, 16, 1, False)
        anchors = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
        self.detect = YoloDetect(3, anchors, (16, 32, 32))

    def forward(self, x: torch.Tensor) -> Any:
        x = self.focus(x)
        p3 = self.c3_1(self.down1(x))
        p4 = self.c3_2(self.down2(p3))
        p5 = self.sppf(self.down3(p4))
        h4 = self.head1(torch.cat([self.up(p5), p4], 1))
        h3 = self.head2(torch.cat([self.up(h4), p3], 1))
        return self.detect([h3, h4, p5])


class AttentionPool2d(nn.Module):
    """CLIP's ModifiedResNet head: attention of the mean token over the grid, through
    ``F.multi_head_attention_forward`` with separate projections and an output projection to another width."""

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int | None = None):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim**2 + 1, embed_dim) / embed_dim**0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(start_dim=2).permute(2, 0, 1)  # NCHW -> (HW)NC
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)  # (HW+1)NC
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        x, _ = F.multi_head_attention_forward(
            query=x[:1],
            key=x,
            value=x,
            embed_dim_to_check=x.shape[-1],
            num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight,
            k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=0,
            out_proj_weight=self.c_proj.weight,
            out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True,
            training=self.training,
            need_weights=False,
        )
        return x.squeeze(0)


class ClipResNetPool(nn.Module):
    """A CLIP ModifiedResNet in small: a three-convolution stem, an average pool, a bottleneck, the attention pool."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)
        self.layer = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
        self.attnpool = AttentionPool2d(7, 32, 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        return self.attnpool(self.layer(x))


def pixel_unshuffle(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Real-ESRGAN's (basicsr's arch_util) pixel unshuffle, with its assert of two conditions."""
    b, c, hh, hw = x.size()
    out_channel = c * (scale**2)
    assert hh % scale == 0 and hw % scale == 0  # noqa: PT018 (as written there: the case under test)
    h = hh // scale
    w = hw // scale
    x_view = x.view(b, c, h, scale, w, scale)
    return x_view.permute(0, 1, 3, 5, 2, 4).reshape(b, out_channel, h, w)


class UnshuffleInput(nn.Module):
    """Real-ESRGAN x2's input: unshuffled by 2, then a first convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(12, 8, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_first(pixel_unshuffle(x, scale=2))


def _is_tracing(tensor: Any) -> bool:
    return isinstance(tensor, torch.fx.Proxy)  # (Hugging Face's ``is_tracing``, among other checks)


class MaskedTokenEncoder(nn.Module):
    """Hugging Face's encoder style: features projected, position embeddings (a buffer of position ids, sliced), a
    padding mask made as its mask functions make it (``keep = keep & f(...)`` from ``new_ones(())``, then ``&=``)
    and dropped where it masks nothing (``mask.all()``, a branch on values, taken only where fx does not trace)."""

    def __init__(self, features: int = 6, dim: int = 16, heads: int = 2, positions: int = 32) -> None:
        super().__init__()
        self.project = nn.Linear(features, dim)
        self.positions = nn.Embedding(positions, dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.heads = heads
        self.register_buffer("position_ids", torch.arange(positions)[None], persistent=False)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = hidden_states.shape
        x = self.project(hidden_states) + self.positions(self.position_ids[:, :t])
        mask = None
        if attention_mask is not None:
            q = torch.arange(t, device=x.device)
            keep = q.new_ones((), dtype=torch.bool)
            keep = keep & (q[None, :, None] >= 0)
            padding = attention_mask.bool()[:, None, None, :]
            keep = keep & padding
            keep &= torch.ones_like(keep)
            mask = None if not _is_tracing(padding) and bool(padding.all()) else keep
        qkv = self.qkv(x).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class CheckedPatchEmbed(nn.Module):
    """Hugging Face's ViT embeddings: the image must be the model's size (a ``raise`` otherwise, its message built
    from the sizes), then patches, a class token and a table of positions for that size."""

    def __init__(self, image_size: int = 16, patch: int = 4, dim: int = 8) -> None:
        super().__init__()
        self.image_size = (image_size, image_size)
        self.projection = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, (image_size // patch) ** 2 + 1, dim))
        self.head = nn.Linear(dim, 5)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        batch_size, _channels, height, width = pixel_values.shape
        if height != self.image_size[0] or width != self.image_size[1]:
            raise ValueError(
                f"Input image size ({height}*{width}) doesn't match model ({self.image_size[0]}*{self.image_size[1]})."
            )
        embeddings = self.projection(pixel_values).flatten(2).transpose(1, 2)
        embeddings = torch.cat((self.cls_token.expand(batch_size, -1, -1), embeddings), dim=1)
        embeddings = embeddings + self.position_embeddings
        return self.head(embeddings[:, 0])


class StrideCheckedSegmenter(nn.Module):
    """segmentation_models_pytorch's style: ``check_input_shape`` (a message that names the size to pad to, built
    with conditional expressions inside the branch that raises), an encoder returning its stages as a list, and a
    decoder that reads their sizes in a comprehension before upsampling to each."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleList([nn.Conv2d(3, 4, 3, 1, 1), nn.Conv2d(4, 8, 3, 2, 1), nn.Conv2d(8, 8, 3, 2, 1)])
        self.fuse = nn.ModuleList([nn.Conv2d(16, 8, 3, 1, 1), nn.Conv2d(12, 4, 3, 1, 1)])
        self.segmentation_head = nn.Conv2d(4, 2, 1)
        self.output_stride = 4

    def check_input_shape(self, x: torch.Tensor) -> None:
        h, w = x.shape[-2:]
        output_stride = self.output_stride
        if h % output_stride != 0 or w % output_stride != 0:
            new_h = (h // output_stride + 1) * output_stride if h % output_stride != 0 else h
            new_w = (w // output_stride + 1) * output_stride if w % output_stride != 0 else w
            raise RuntimeError(
                f"Wrong input shape height={h}, width={w}. Expected image height and width divisible by "
                f"{output_stride}. Consider pad your images to shape ({new_h}, {new_w})."
            )

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        spatial_shapes = [feature.shape[2:] for feature in features]
        x = features[-1]
        for i, block in enumerate(self.fuse):
            skip = features[-i - 2]
            x = F.interpolate(x, size=spatial_shapes[-i - 2], mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input_shape(x)
        features = []
        for stage in self.stages:
            x = F.relu(stage(x))
            features.append(x)
        return self.segmentation_head(self.decode(features))


class PyramidShortcut(nn.Module):
    """PyramidNet's block (written for PyTorch before 0.4): the shortcut padded with zeros made as a ``Variable``
    to the widened channels, its sizes unpacked with a starred name."""

    def __init__(self, inplanes: int = 4, planes: int = 6) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.AvgPool2d(2, 2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv1(self.bn1(x)))
        shortcut = self.downsample(x)
        *_, featuremap_h, featuremap_w = out.shape
        batch_size, residual_channel = out.size()[:2]
        shortcut_channel = shortcut.size()[1]
        if residual_channel != shortcut_channel:
            padding = torch.autograd.Variable(
                torch.zeros(batch_size, residual_channel - shortcut_channel, featuremap_h, featuremap_w)
            )
            out = out + torch.cat((shortcut, padding), 1)
        else:
            out = out + shortcut
        return out


class WaveNetLength(nn.Module):
    """golbin's WaveNet: the input's length taken with ``int()`` and checked against the receptive field before
    the dilated stack (its own exception otherwise)."""

    class InputSizeError(Exception):
        pass

    def __init__(self, channels: int = 4, layers: int = 3) -> None:
        super().__init__()
        self.dilations = [2**i for i in range(layers)]
        self.causal = nn.Conv1d(2, channels, 2, bias=False)
        self.stack = nn.ModuleList(nn.Conv1d(channels, channels, 2, dilation=d, bias=False) for d in self.dilations)
        self.receptive_fields = sum(self.dilations) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output_size = int(x.size(2)) - self.receptive_fields
        if output_size < 1:
            raise WaveNetLength.InputSizeError(f"{int(x.size(2))} is shorter than {self.receptive_fields}")
        x = self.causal(x)
        for conv in self.stack:
            x = torch.tanh(conv(x))
        return x[:, :, -output_size:]


CORPUS: list[tuple[str, Any, Any]] = [
    ("ShuffleNetTiny", ShuffleNetTiny, (2, 3, 16, 16)),
    ("ShuffleV2Block", lambda: ShuffleV2Block(8), (1, 8, 6, 6)),
    ("IntViewNet", IntViewNet, (3, 1, 28, 28)),
    ("DCGANGenerator", DCGANGenerator, (2, 16, 1, 1)),
    ("DCGANDiscriminator", DCGANDiscriminator, (2, 3, 16, 16)),
    ("YoloHead", YoloHead, (1, 3, 8, 8)),
    ("YoloUpsample", YoloUpsample, (1, 4, 5, 3)),
    ("AssertNet", AssertNet, (2, 3, 5, 7)),
    ("ShapeAsserts", ShapeAsserts, (2, 3, 16, 16)),
    ("DynamicSameNet", DynamicSameNet, (1, 3, 15, 16)),
    ("CeilSameNet", CeilSameNet, (2, 3, 23, 17)),
    ("MaxPoolSame", MaxPoolSame, (1, 3, 7, 8)),
    ("CifarResNet", CifarResNet, (2, 3, 8, 8)),
    ("MadeInForward", MadeInForward, (1, 3, 10, 10)),
    ("StochasticDepthNet", lambda: StochasticDepthNet().eval(), (1, 4, 6, 6)),
    ("ScriptDepthNet", lambda: ScriptDepthNet().eval(), (2, 3, 6, 6)),
    ("ScriptAskNet", lambda: ScriptAskNet().eval(), (2, 3, 6, 6)),
    ("EfficientStem", EfficientStem, (2, 3, 16, 16)),
    ("StaticSameMix", StaticSameMix, (1, 3, 8, 8)),
    ("TupleSequential", TupleSequential, (1, 3, 5, 5)),
    ("TupleSequential2", TupleSequential2, (4, 6)),
    ("ConvVAE", ConvVAE, (2, 1, 16, 16)),
    ("LinearVAE", LinearVAE, (3, 20)),
    ("DictHeads", DictHeads, (1, 3, 6, 6)),
    ("DictFeatures", DictFeatures, (1, 3, 8, 8)),
    ("SiameseNet", SiameseNet, [(2, 1, 8, 8), (2, 1, 8, 8)]),
    ("TwoStream", TwoStream, [(1, 3, 7, 7), (1, 2, 7, 7)]),
    ("KwargsForward", KwargsForward, (1, 3, 5, 5)),
    ("KwargsMask", KwargsMask, {"x": (2, 6), "mask": (2, 6)}),
    ("LeNet", LeNet, (2, 1, 28, 28)),
    ("VGGish", VGGish, (2, 3, 16, 16)),
    ("UNetSmall", UNetSmall, (1, 1, 16, 16)),
    ("UNetOdd", UNetSmall, (1, 1, 17, 18)),
    ("MobileNetBlocks", MobileNetBlocks, (1, 4, 8, 8)),
    ("DenseBlock", DenseBlock, (1, 4, 6, 6)),
    ("SqueezeExcite", SqueezeExcite, (2, 3, 6, 6)),
    ("FrozenBackbone", FrozenBackbone, (1, 3, 6, 6)),
    ("Conv1dAudio", Conv1dAudio, (2, 1, 64)),
    ("TiedAutoencoder", TiedAutoencoder, (5, 12)),
    ("ShuffleUnit", lambda: ShuffleUnit(8, 4), (1, 8, 4, 4)),
    ("CifarBasicBlock", lambda: CifarBasicBlock(4, 8, 2), (1, 4, 8, 8)),
    ("InvertedResidual", lambda: InvertedResidual(4, 4, 1, 6), (1, 4, 5, 5)),
    ("DoubleConv", lambda: DoubleConv(2, 3), (1, 2, 6, 6)),
    ("Up", lambda: Up(8, 4), [(1, 8, 3, 3), (1, 4, 7, 7)]),
    ("StochasticBlock", lambda: StochasticBlock(3, 0.5).eval(), (1, 3, 4, 4)),
    ("HybridViT", lambda: HybridViT().eval(), (2, 3, 16, 16)),
    ("CRNN", CRNN, (2, 1, 8, 20)),
    ("HandAttention", HandAttention, (2, 7, 16)),
    ("UnfoldPatches", UnfoldPatches, (2, 3, 12, 16)),
    ("UpToSkip", UpToSkip, (1, 3, 9, 10)),
    ("TorchvisionDenseLayer", TorchvisionDenseLayer, (2, 3, 8, 8)),
    ("LevelsNeck", LevelsNeck, (2, 3, 16, 16)),
    ("WaveNetSkips", WaveNetSkips, (1, 4, 20)),
    ("SqueezeInPlaceHead", SqueezeInPlaceHead, (4, 3, 9, 9)),
    ("ForwardFeatures", ForwardFeatures, (2, 3, 8, 8)),
    ("TimmStyleNet", lambda: TimmStyleNet().eval(), (2, 3, 19, 24)),
    ("PatchViT", lambda: PatchViT().eval(), (2, 3, 16, 16)),
    ("CausalEncoder", lambda: CausalEncoder().eval(), (2, 7, 8)),
    ("Seq2Seq", lambda: Seq2Seq().eval(), [(2, 5, 16), (2, 9, 16)]),
    ("CBAMBlock", CBAMBlock, (2, 3, 9, 7)),
    ("TextCNN", TextCNN, (2, 12)),
    ("ConvNeXtTiny", lambda: ConvNeXtTiny().eval(), (2, 3, 32, 32)),
    ("SwinTiny", lambda: SwinTiny().eval(), (2, 3, 32, 32)),
    ("RepVGGMini", lambda: RepVGGMini().eval(), (2, 3, 16, 16)),
    ("RepVGGDeploy", repvgg_deploy, (2, 3, 16, 16)),
    ("Res2NetMini", lambda: Res2NetMini().eval(), (2, 3, 16, 16)),
    ("GhostNetMini", lambda: GhostNetMini().eval(), (2, 3, 8, 8)),
    ("FPN", lambda: FPN().eval(), (1, 3, 45, 71)),
    ("HRNetMini", lambda: HRNetMini().eval(), (1, 3, 30, 26)),
    ("YoloV5Mini", lambda: YoloV5Mini().eval(), (1, 3, 32, 32)),
    ("ECANet", ECANet, (2, 3, 16, 16)),
    ("EDSR", EDSR, (1, 3, 6, 6)),
    ("ESPCN", ESPCN, (2, 1, 6, 6)),
    ("FNO2d", FNO2d, (2, 12, 12, 3)),
    ("TCN", lambda: TCN().eval(), (2, 20, 4)),
    ("CRNNGRU", CRNNGRU, (2, 1, 16, 20)),
    ("DinoViT", lambda: DinoViT().eval(), (2, 3, 16, 24)),
    ("MLPMixer", MLPMixer, (2, 3, 16, 16)),
    ("LoRAEncoder", LoRAEncoder, (2, 7, 16)),
    ("RNNModel", lambda: RNNModel().eval(), (6, 2)),
    ("CheckpointedHeads", lambda: CheckpointedHeads().eval(), (2, 3, 8, 8)),
    ("FrozenRetina", frozen_retina, (1, 3, 32, 32)),
    ("ClipResNetPool", lambda: ClipResNetPool().eval(), (2, 3, 28, 28)),
    ("UnshuffleInput", UnshuffleInput, (1, 3, 8, 6)),
    ("MaskedTokenEncoder", MaskedTokenEncoder, {"hidden_states": (2, 12, 6), "attention_mask": (2, 12)}),
    ("CheckedPatchEmbed", CheckedPatchEmbed, (2, 3, 16, 16)),
    ("StrideCheckedSegmenter", StrideCheckedSegmenter, (1, 3, 12, 8)),
    ("PyramidShortcut", lambda: PyramidShortcut().eval(), (2, 4, 7, 6)),
    ("WaveNetLength", WaveNetLength, (2, 2, 20)),
]
