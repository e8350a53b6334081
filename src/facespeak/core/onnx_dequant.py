"""Undo dynamic int8 quantization of convolutions in an ONNX graph.

onnxruntime's ``quantize_dynamic`` turns a float ``Conv`` into

    x -> DynamicQuantizeLinear -> ConvInteger(x_q, W_q, x_zp, w_zp)
      -> [Add(int32 bias)] -> Cast(float) -> Mul(x_scale * w_scale) -> [Add(float bias)]

which onnxruntime runs slowly on CPUs (no fast int8 convolution kernel) and which quantizes the
*activations* of every call. :func:`dequantize_conv_integer` replaces each such chain by one float
``Conv`` with ``W = (W_q - w_zp) * w_scale`` (and the original float bias where the chain carried a
quantized one), then drops the nodes and initializers nothing uses any more. The weights keep
their int8 precision; only the activation rounding goes. Used for Kokoro-82M
(``facespeak.data.neural_voices``): 2x faster and cleaner audio (docs/datasheet_speech.md).

Pure: a ``ModelProto`` in, a ``ModelProto`` out (no file I/O).
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

__all__ = ["dequantize_conv_integer"]


def dequantize_conv_integer(model: Any) -> tuple[Any, int]:
    """``(model, n)``: ``model`` (an ``onnx.ModelProto``, changed in place) with ``n`` ConvInteger
    chains replaced by float Conv nodes. Chains of another shape are left as they are."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[Any]] = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    producer = {out: node for node in graph.node for out in node.output}

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(inits[name])

    def sole_consumer(name: str, op: str) -> Any | None:
        nodes = consumers[name]
        return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op else None

    replacement: dict[int, Any] = {}
    dropped: set[int] = set()
    new_inits = []
    for node in graph.node:
        if node.op_type != "ConvInteger" or len(node.input) != 4:
            continue
        x_q, w_q, _, w_zp = node.input
        quantize = producer.get(x_q)
        if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or w_q not in inits or w_zp not in inits:
            continue
        bias = None
        add = sole_consumer(node.output[0], "Add")
        if add is not None:  # int32 bias, computed in the graph as floor(bias / (x_scale * w_scale))
            cast = sole_consumer(add.output[0], "Cast")
            bias = _float_bias([i for i in add.input if i != node.output[0]][0], producer, inits)
            chain = [node, add, cast]
        else:
            cast = sole_consumer(node.output[0], "Cast")
            chain = [node, cast]
        mul = sole_consumer(cast.output[0], "Mul") if cast is not None else None
        if mul is None or (add is not None and bias is None):
            continue
        scale = producer.get([i for i in mul.input if i != cast.output[0]][0])
        w_scale = [i for i in scale.input if i in inits] if scale is not None and scale.op_type == "Mul" else []
        if len(w_scale) != 1:
            continue
        weight = (array(w_q).astype(np.int32) - array(w_zp).astype(np.int32)).astype(np.float32)
        weight *= array(w_scale[0]).astype(np.float32)
        inputs = [quantize.input[0], f"{node.name}/float_weight"]
        new_inits.append(numpy_helper.from_array(weight, inputs[1]))
        if bias is not None:
            inputs.append(f"{node.name}/float_bias")
            new_inits.append(numpy_helper.from_array(bias, inputs[2]))
        conv = helper.make_node("Conv", inputs, [mul.output[0]], name=f"{node.name}/float")
        conv.attribute.extend(node.attribute)
        replacement[id(mul)] = conv
        dropped.update(id(n) for n in chain)
    nodes = [replacement.get(id(n), n) for n in graph.node if id(n) not in dropped]
    nodes = _live(nodes, {o.name for o in graph.output})
    used = {name for n in nodes for name in n.input}
    kept = [i for i in list(graph.initializer) + new_inits if i.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model, len(replacement)


def _float_bias(name: str, producer: dict[str, Any], inits: dict[str, Any]) -> np.ndarray | None:
    """The float bias behind a quantized-bias chain (Reshape <- Cast <- Floor <- Div(bias, scale))."""
    from onnx import numpy_helper

    node = producer.get(name)
    for _ in range(6):
        if node is None:
            return None
        if node.op_type == "Div":
            return numpy_helper.to_array(inits[node.input[0]]).astype(np.float32) if node.input[0] in inits else None
        node = producer.get(node.input[0])
    return None


def _live(nodes: list[Any], outputs: set[str]) -> list[Any]:
    """``nodes`` without those whose outputs nothing reads (repeated until none is left)."""
    while True:
        used = {name for n in nodes for name in n.input} | outputs
        kept = [n for n in nodes if any(o in used for o in n.output)]
        if len(kept) == len(nodes):
            return kept
        nodes = kept
