"""Clean-ups of the exported ONNX graph that make batch-1 CPU inference cheaper.

The torch exporter spells every attention reshape as
``Reshape(x, Concat(Unsqueeze(Gather(Shape(y), 0)), Unsqueeze(Gather(Shape(y), 1)), -1, 32))``:
about a hundred small shape nodes that ONNX Runtime runs on every call (~5 % of
the INT8 student's latency). ``Reshape(x, [0, 0, -1, 32])`` means the same when
``x`` and ``y`` agree on the copied leading dims, which holds for a BERT encoder
(both are (batch, seq, ...)); :func:`simplify_reshapes` rewrites those and
:func:`export_onnx <trainer.export.export_onnx>` checks the result numerically
against the original graph before using it.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def _constant(node: onnx.NodeProto) -> np.ndarray | None:
    if node.op_type != "Constant":
        return None
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
    return None


def simplify_reshapes(model: onnx.ModelProto) -> int:
    """Replace computed leading dims of Reshape targets by 0 ("copy"); returns how many were rewritten."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}

    def copied_dim(name: str) -> int | None:
        """k if ``name`` is Unsqueeze(Gather(Shape(_), k)), else None."""
        unsq = producer.get(name)
        if unsq is None or unsq.op_type != "Unsqueeze":
            return None
        gather = producer.get(unsq.input[0])
        if gather is None or gather.op_type != "Gather" or producer.get(gather.input[0]) is None:
            return None
        if producer[gather.input[0]].op_type != "Shape":
            return None
        index = producer.get(gather.input[1])
        value = _constant(index) if index is not None else None
        return int(value) if value is not None and value.size == 1 else None

    rewritten = 0
    for node in graph.node:
        if node.op_type != "Reshape" or any(a.name == "allowzero" and a.i for a in node.attribute):
            continue
        concat = producer.get(node.input[1])
        if concat is None or concat.op_type != "Concat":
            continue
        dims: list[int] = []
        for position, part in enumerate(concat.input):
            source = producer.get(part)
            value = _constant(source) if source is not None else None
            if value is not None and value.size == 1 and int(value.reshape(-1)[0]) != 0:
                dims.append(int(value.reshape(-1)[0]))
            elif copied_dim(part) == position:
                dims.append(0)
            else:
                break
        else:
            if 0 not in dims:
                continue
            name = f"{node.name or node.output[0]}_static_shape"
            graph.initializer.append(numpy_helper.from_array(np.array(dims, dtype=np.int64), name))
            node.input[1] = name
            rewritten += 1
    if rewritten:
        prune_unused(model)
    return rewritten


def prune_unused(model: onnx.ModelProto) -> None:
    """Drop nodes whose outputs nothing reads (repeatedly, so whole dead chains go)."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    while True:
        used = outputs | {i for node in graph.node for i in node.input}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)
