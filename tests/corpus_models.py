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
]
