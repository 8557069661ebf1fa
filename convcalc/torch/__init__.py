"""The torch bridge: convcalc specs to torch modules and back, and a check against a real forward pass.

Four public functions, each importing torch only when called (``import convcalc``
never imports torch):

- :func:`to_torch` builds the ``torch.nn.Module`` a ``convcalc.nn`` model
  describes: the same arguments, the same child names (so ``named_modules()``
  paths are the plan's row names) and the same parameter count.
- :func:`from_torch` reads a ``torch.nn.Module`` into a ``convcalc.nn`` model
  without running it on data: layers with a ``convcalc.nn`` spec map to that
  spec, ``nn.Sequential`` to ``Sequential``, and any other module's ``forward``
  is read with ``torch.fx`` into a ``Graph`` whose nodes are its children
  and the tensor operations between them (residual ``+``, ``torch.cat``,
  ``view``/``flatten``, functional pooling, channel shuffles, squeeze-and-
  excitation products, ...). :func:`register` teaches it a module type it
  cannot read.
- :func:`verify` runs one forward pass and compares every layer with the plan.

Row names are torch's module paths (``layer1.0.conv1``). Tensor operations
written in a ``forward`` get rows too, named after the fx node inside the
module that runs them (``layer1.0.add``, ``flatten``), with the operation's
name as kind.

One job per module, from the bottom up (``docs/architecture.md`` draws it):
``nodes`` (fx nodes as plain data), ``strides`` (torch's stride rules) -> ``values`` (shapes in flight, the
handler table) -> ``ops_math``, ``ops_product``, ``ops_shape``, ``ops_layer``, ``ops_norm`` (the fx operations;
``ops`` loads them all) -> ``trace`` (rules, the parameter
book, leaf specs, torch.fx tracing) -> ``fallback`` (the meta-device pass) -> ``graph`` (the ``Graph`` and
``TorchCall`` specs and planning them) -> ``read`` (``from_torch``) -> ``build`` (``to_torch``) -> ``verify``.
"""
