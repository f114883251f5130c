#!/usr/bin/python3
"""Generates the malformed inputs that tests/robustness/test_bad_inputs.py feeds to the infera CLI.

Two families:
  * crafted cases: small models built with onnx.helper, each broken in one way (unknown op, dims of 2**40,
    negative dims, external data escaping the model's folder, undefined values, cycles, ...), plus CLI misuse
    against a valid model (wrong input dtype/shape/count/name, missing or corrupt input files);
  * corrupted copies of real models: truncated at several cut points and with ~10 random bits flipped
    (several fixed seeds, so every run tests the same files).

Each case is a dict:
  id       short unique name
  args     CLI arguments after the binary, e.g. ["run", "/scratch/x.onnx"]
  expect   "error": exit 1 with exactly one stderr line "infera: error: ..." (the message checks below apply);
           "error_or_ok": exit 0 is also fine (a corrupted file may still be a valid model), but a failure
           must still be one well-formed line;
           "unsupported_listed": `infera info` on a model with an unknown op: as "error", and the nodes are
           also listed on stdout;
           "ok": must succeed (the control case).
  names    substrings the error message must contain (the file at fault, the node or tensor, ...)
  reason   a regular expression the message must match (the reason), or None
  parses   for corrupted copies: whether Python's protobuf parses the bytes (if it does not, infera must fail)

Run standalone to just write the files:  make_bad_models.py OUT_DIR [MODEL.onnx ...]
"""

import json
import os
import random
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8


# ---------------------------------------------------------------------------------------------------------------
# building blocks

def _model(nodes, inputs, outputs, initializers=(), opsets=None, name="bad"):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), initializer=list(initializers))
    opset_imports = [helper.make_opsetid(d, v) for d, v in (opsets or {"": OPSET}).items()]
    m = helper.make_model(graph, opset_imports=opset_imports, producer_name="make_bad_models")
    m.ir_version = IR_VERSION
    return m


def _save(model, path):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())  # never onnx.save: no checks, no external-data rewriting
    return path


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _raw_tensor(name, dims, raw=b"", elem=TensorProto.FLOAT):
    """A TensorProto with arbitrary dims and raw bytes, bypassing helper.make_tensor's consistency checks."""
    t = TensorProto()
    t.name = name
    t.data_type = elem
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def _external_tensor(name, dims, location, extra=None):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    for k, v in (extra or {}).items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _add_with_initializer(w):
    """Y = X + W, where W is the (possibly broken) initializer: the node is named 'add_w'."""
    return _model([helper.make_node("Add", ["X", w.name], ["Y"], name="add_w")],
                  [_vi("X", [1, 4])], [_vi("Y", [1, 4])], [w])


def _write_npy(path, array):
    np.save(path, array, allow_pickle=False)
    return path


def _npy(header_body, data, version=1, header_len=None):
    """.npy bytes with an arbitrary header dict body; header_len overrides the length field."""
    header = ("{" + header_body + ", }").encode("latin1")
    prefix = 10 if version == 1 else 12
    header += b" " * (63 - (prefix + len(header)) % 64) + b"\n"
    n = len(header) if header_len is None else header_len
    length = n.to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + data


def _case(cases, id, args, expect="error", names=(), reason=None, **extra):
    c = {"id": id, "args": [str(a) for a in args], "expect": expect, "names": [str(n) for n in names],
         "reason": reason}
    c.update(extra)
    cases.append(c)


# ---------------------------------------------------------------------------------------------------------------
# crafted models

def make_crafted(out_dir):
    """Writes the crafted models and input files into out_dir; returns the cases."""
    d = os.path.join(out_dir, "crafted")
    os.makedirs(d, exist_ok=True)
    cases = []

    def both(id, model, names=(), reason=None, info_reason=None, info_names=None):
        """The model is broken in a way that `run` and `info` must both report."""
        path = _save(model, os.path.join(d, id + ".onnx"))
        _case(cases, id + "/run", ["run", path], names=[path, *names], reason=reason)
        _case(cases, id + "/info", ["info", path], names=[path, *(names if info_names is None else info_names)],
              reason=info_reason or reason)
        return path

    # -- the op table ---------------------------------------------------------------------------------------
    m = _model([helper.make_node("Relu", ["X"], ["H"], name="relu0"),
                helper.make_node("FrobnicateXYZ", ["H"], ["Y"], name="mystery")],
               [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    path = _save(m, os.path.join(d, "unknown_op.onnx"))
    _case(cases, "unknown_op/run", ["run", path], names=[path, "mystery", "FrobnicateXYZ"], reason="unsupported")
    _case(cases, "unknown_op/info", ["info", path], expect="unsupported_listed",
          names=[path, "mystery", "FrobnicateXYZ"], reason="unsupported")

    # names come from the file: a newline or escape sequence in one must not break the one-line message
    m = _model([helper.make_node("FrobnicateXYZ", ["X"], ["Y"], name="evil\nname\r\x1b[2J")],
               [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    path = _save(m, os.path.join(d, "control_chars_in_name.onnx"))
    _case(cases, "control_chars_in_name/run", ["run", path], names=[path, "evil"], reason="unsupported")
    _case(cases, "control_chars_in_name/info", ["info", path], expect="unsupported_listed", names=[path, "evil"],
          reason="unsupported")

    m = _model([helper.make_node("Relu", ["X"], ["Y"], name="foreign", domain="com.example.nowhere")],
               [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    both("domain_not_imported", m, names=["foreign"], reason="not imported")

    # -- sizes -------------------------------------------------------------------------------------------------
    both("init_dims_2pow40", _add_with_initializer(_raw_tensor("W", [2**40])),
         names=["'W'"], reason="exceeds|limit")
    both("init_dims_2pow40_squared", _add_with_initializer(_raw_tensor("W", [2**40, 2**40, 2**40])),
         names=["'W'"], reason="overflow")
    # 2**31 bytes claimed, 4 held: must be refused without allocating 2 GiB first
    both("init_dims_2gib_no_data", _add_with_initializer(_raw_tensor("W", [2**31], b"\0" * 4, TensorProto.UINT8)),
         names=["'W'"], reason="raw data|bytes")
    both("init_negative_dims", _add_with_initializer(_raw_tensor("W", [-3, 4])), names=["'W'"], reason="negative")
    both("init_raw_data_wrong_size", _add_with_initializer(_raw_tensor("W", [1, 4], b"\0" * 15)),
         names=["'W'"], reason="raw data holds 15 bytes")
    w = helper.make_tensor("W", TensorProto.FLOAT, [1, 4], [1.0, 2.0, 3.0, 4.0])
    del w.float_data[3]
    both("init_typed_data_wrong_count", _add_with_initializer(w), names=["'W'"], reason="holds 3 values")
    w = helper.make_tensor("W", TensorProto.STRING, [1], [b"hello"])
    both("init_string_type", _add_with_initializer(w), names=["'W'"], reason="not supported")
    w = _raw_tensor("W", [1, 4], b"\0" * 16)
    w.data_type = 99
    both("init_unknown_type", _add_with_initializer(w), names=["'W'"], reason="not supported")

    m = _model([helper.make_node("Relu", ["X"], ["Y"], name="relu0")], [_vi("X", [2**40, 4])], [_vi("Y", [2**40, 4])])
    path = _save(m, os.path.join(d, "input_dims_2pow40.onnx"))
    # Declaring a huge input is legal, so `info` may describe the model; running it must fail cleanly.
    _case(cases, "input_dims_2pow40/run", ["run", path], names=[path, "'X'"], reason="exceeds|limit")
    _case(cases, "input_dims_2pow40/info", ["info", path], expect="error_or_ok", names=[path])
    m = _model([helper.make_node("Relu", ["X"], ["Y"], name="relu0")],
               [_vi("X", [2**40, 2**40, 2**40])], [_vi("Y", [2**40, 2**40, 2**40])])
    path = _save(m, os.path.join(d, "input_dims_overflow.onnx"))
    _case(cases, "input_dims_overflow/run", ["run", path], names=[path, "'X'"], reason="overflow")
    _case(cases, "input_dims_overflow/info", ["info", path], expect="error_or_ok", names=[path])
    m = _model([helper.make_node("Shape", ["X"], ["S"], name="shape0")],
               [_vi("X", [2**40, 2**40, 2**40])], [_vi("S", [3], TensorProto.INT64)])
    path = _save(m, os.path.join(d, "input_dims_overflow_shape.onnx"))
    _case(cases, "input_dims_overflow_shape/info", ["info", path], expect="error_or_ok", names=[path])

    m = _model([helper.make_node("Relu", ["X"], ["Y"], name="relu0")], [_vi("X", [1, -4])], [_vi("Y", [1, 4])])
    both("input_negative_dims", m, names=["'X'"], reason="negative")

    # -- external data -------------------------------------------------------------------------------------------
    ext = os.path.join(d, "ext")
    os.makedirs(ext, exist_ok=True)
    with open(os.path.join(ext, "short.bin"), "wb") as f:
        f.write(b"\0" * 7)
    with open(os.path.join(ext, "ok.bin"), "wb") as f:
        f.write(np.arange(4, dtype=np.float32).tobytes())
    os.makedirs(os.path.join(ext, "adir"), exist_ok=True)
    link = os.path.join(ext, "passwd_link")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("/etc/passwd", link)

    def ext_case(id, location, reason, extra=None):
        m = _add_with_initializer(_external_tensor("W", [1, 4], location, extra))
        both(id, m, names=["'W'"], reason=reason)

    ext_case("ext/etc_passwd_relative", "../../etc/passwd", "escapes")
    ext_case("ext/etc_passwd_deep", "../" * 40 + "etc/passwd", "escapes")
    ext_case("ext/etc_passwd_absolute", "/etc/passwd", "absolute")
    ext_case("ext/symlink_out", "passwd_link", "escapes")
    ext_case("ext/missing_file", "missing.bin", "missing.bin.*(cannot open|No such)")
    ext_case("ext/short_file", "short.bin", "holds 7 bytes")
    ext_case("ext/directory", "adir", "adir")
    ext_case("ext/empty_location", "", "no location")
    ext_case("ext/offset_not_number", "ok.bin", "not a number", {"offset": "abc"})
    ext_case("ext/offset_negative", "ok.bin", "negative", {"offset": "-8"})
    ext_case("ext/offset_beyond_end", "ok.bin", "holds 0 bytes", {"offset": str(2**62)})
    ext_case("ext/offset_overflow", "ok.bin", "not a number", {"offset": "9" * 40})
    ext_case("ext/length_too_short", "ok.bin", "holds 8 bytes", {"length": "8"})

    # -- graph structure ------------------------------------------------------------------------------------------
    m = _model([helper.make_node("Add", ["X", "nowhere"], ["Y"], name="reads_undefined")],
               [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    both("undefined_value", m, names=["reads_undefined", "'nowhere'"], reason="not produced")
    m = _model([helper.make_node("Add", ["X", "B"], ["A"], name="cyc_a"),
                helper.make_node("Relu", ["A"], ["B"], name="cyc_b"),
                helper.make_node("Relu", ["A"], ["Y"], name="out")],
               [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    both("cycle", m, names=["cyc_"], reason="cycle")
    m = _model([helper.make_node("Relu", ["Y"], ["Y"], name="self_loop")], [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    both("reads_own_output", m, names=["self_loop"], reason="own output")
    m = _model([helper.make_node("Relu", ["X"], ["Y"], name="first"),
                helper.make_node("Neg", ["X"], ["Y"], name="second")],
               [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    both("duplicate_output", m, names=["'Y'"], reason="more than once")
    m = _model([helper.make_node("Relu", ["X"], ["X"], name="shadows_input")], [_vi("X", [1, 4])], [_vi("X", [1, 4])])
    both("output_shadows_input", m, names=["shadows_input", "'X'"], reason="more than once")
    m = _model([helper.make_node("Relu", ["X"], ["H"], name="relu0")], [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    both("graph_output_undefined", m, names=["'Y'"], reason="not produced")
    m = _model([helper.make_node("Relu", ["X"], ["Y"], name="relu0")], [_vi("X", [1, 4])], [_vi("Y", [1, 4])])
    m.ir_version = 0
    both("ir_version_0", m, reason="IR version")
    m = onnx.ModelProto()
    m.ir_version = IR_VERSION
    m.opset_import.add().version = OPSET
    both("no_graph", m, reason="no graph")
    # If-bodies nested 40 deep
    inner = helper.make_graph([helper.make_node("Identity", ["X"], ["Z0"], name="leaf")], "g0", [],
                              [_vi("Z0", [1, 4])])
    for k in range(1, 41):  # only the then-branch nests (nesting both would double the size at each level)
        leaf = helper.make_graph([helper.make_node("Identity", ["X"], [f"E{k}"], name=f"else{k}")], f"e{k}", [],
                                 [_vi(f"E{k}", [1, 4])])
        node = helper.make_node("If", ["C"], [f"Z{k}"], name=f"if{k}", then_branch=inner, else_branch=leaf)
        inner = helper.make_graph([node], f"g{k}", [], [_vi(f"Z{k}", [1, 4])])
    m = _model(list(inner.node), [_vi("X", [1, 4]), _vi("C", [], TensorProto.BOOL)], [_vi("Z40", [1, 4])])
    # protobuf's own recursion limit (100 messages deep) may refuse it before infera's 32-level check does
    both("subgraphs_40_deep", m, reason="nested deeper|not a valid ONNX model")

    # -- operators asked for absurd sizes: attributes and constant inputs of 2**40, 2**62, negative, zero --------
    # Each must end in a located error (the node named), or, where the ONNX semantics clamp (Slice), a result.
    X4 = _vi("X", [1, 4, 4, 4])

    def i64(name, vals):
        return helper.make_tensor(name, TensorProto.INT64, [len(vals)], vals)

    def op_case(id, node, inits=(), expect="error", reason=None):
        m = _model([node], [X4], [_vi("Y", None)], inits)
        path = _save(m, os.path.join(d, "op_" + id + ".onnx"))
        names = [path] if expect == "error_or_ok" else [path, node.name]
        _case(cases, "op/" + id + "/run", ["run", path], expect=expect, names=names, reason=reason)
        _case(cases, "op/" + id + "/info", ["info", path], expect="error_or_ok", names=[path])

    big, huge = 2**40, 2**62
    op_case("depthtospace_blocksize_2pow62", helper.make_node("DepthToSpace", ["X"], ["Y"], name="d2s", blocksize=huge))
    op_case("spacetodepth_blocksize_2pow62", helper.make_node("SpaceToDepth", ["X"], ["Y"], name="s2d", blocksize=huge))
    op_case("depthtospace_blocksize_0", helper.make_node("DepthToSpace", ["X"], ["Y"], name="d2s", blocksize=0))
    op_case("conv_strides_0", helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", strides=[0, 0]),
            [helper.make_tensor("W", TensorProto.FLOAT, [2, 4, 1, 1], [0.5] * 8)])
    op_case("conv_pads_2pow62", helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", pads=[huge] * 4),
            [helper.make_tensor("W", TensorProto.FLOAT, [2, 4, 1, 1], [0.5] * 8)])
    op_case("conv_dilations_2pow62", helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", dilations=[huge] * 2),
            [helper.make_tensor("W", TensorProto.FLOAT, [2, 4, 2, 2], [0.5] * 32)])
    op_case("conv_group_0", helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", group=0),
            [helper.make_tensor("W", TensorProto.FLOAT, [2, 4, 1, 1], [0.5] * 8)])
    op_case("maxpool_kernel_2pow62", helper.make_node("MaxPool", ["X"], ["Y"], name="pool", kernel_shape=[huge] * 2))
    op_case("maxpool_kernel_negative", helper.make_node("MaxPool", ["X"], ["Y"], name="pool", kernel_shape=[-2, -2]))
    op_case("reshape_2pow62", helper.make_node("Reshape", ["X", "S"], ["Y"], name="reshape"), [i64("S", [huge, 4])])
    op_case("reshape_negative", helper.make_node("Reshape", ["X", "S"], ["Y"], name="reshape"), [i64("S", [-5, 16])])
    op_case("tile_2pow40", helper.make_node("Tile", ["X", "R"], ["Y"], name="tile"), [i64("R", [1, 1, big, big])])
    op_case("tile_negative", helper.make_node("Tile", ["X", "R"], ["Y"], name="tile"), [i64("R", [1, 1, -1, 1])])
    op_case("expand_2pow40", helper.make_node("Expand", ["X", "S"], ["Y"], name="expand"), [i64("S", [big, 4, 4, 4])])
    op_case("constantofshape_2pow40", helper.make_node("ConstantOfShape", ["S"], ["Y"], name="cos"), [i64("S", [big, big])])
    op_case("constantofshape_negative", helper.make_node("ConstantOfShape", ["S"], ["Y"], name="cos"), [i64("S", [-3])])
    op_case("range_2pow62", helper.make_node("Range", ["A", "B", "C"], ["Y"], name="range"),
            [helper.make_tensor("A", TensorProto.INT64, [], [0]), helper.make_tensor("B", TensorProto.INT64, [], [huge]),
             helper.make_tensor("C", TensorProto.INT64, [], [1])])
    op_case("range_delta_0", helper.make_node("Range", ["A", "B", "C"], ["Y"], name="range"),
            [helper.make_tensor("A", TensorProto.INT64, [], [0]), helper.make_tensor("B", TensorProto.INT64, [], [10]),
             helper.make_tensor("C", TensorProto.INT64, [], [0])])
    op_case("pad_2pow40", helper.make_node("Pad", ["X", "P"], ["Y"], name="pad"), [i64("P", [0, 0, big, big] * 2)])
    op_case("pad_negative_past_size", helper.make_node("Pad", ["X", "P"], ["Y"], name="pad"),
            [i64("P", [0, 0, -9, -9, 0, 0, 0, 0])])
    op_case("onehot_depth_2pow40", helper.make_node("OneHot", ["I", "D", "V"], ["Y"], name="onehot"),
            [i64("I", [1, 2]), i64("D", [big]), helper.make_tensor("V", TensorProto.FLOAT, [2], [0, 1])])
    op_case("topk_k_2pow40", helper.make_node("TopK", ["X", "K"], ["Y", "Yi"], name="topk"), [i64("K", [big])])
    op_case("gather_index_out_of_range", helper.make_node("Gather", ["X", "I"], ["Y"], name="gather", axis=1),
            [i64("I", [0, 4])])
    op_case("gather_index_2pow62", helper.make_node("Gather", ["X", "I"], ["Y"], name="gather", axis=1),
            [i64("I", [-huge])])
    op_case("slice_extreme_bounds", helper.make_node("Slice", ["X", "St", "En"], ["Y"], name="slice"),
            [i64("St", [-huge, huge, 0, -huge]), i64("En", [huge, -huge, huge, huge])], expect="error_or_ok")
    # four non-negative sizes whose sum wraps around to exactly 4, the extent of the axis
    op_case("split_sizes_sum_wraps", helper.make_node("Split", ["X", "S"], ["Y", "Y2", "Y3", "Y4"], name="split", axis=1),
            [i64("S", [huge, huge, huge, huge + 4])])
    op_case("resize_sizes_2pow20", helper.make_node("Resize", ["X", "", "", "S"], ["Y"], name="resize"),
            [i64("S", [1, 4, 2**20, 2**20])])
    op_case("transpose_perm_out_of_range", helper.make_node("Transpose", ["X"], ["Y"], name="transpose", perm=[0, 1, 2, 9]))
    op_case("concat_axis_2pow62", helper.make_node("Concat", ["X", "X"], ["Y"], name="concat", axis=huge))
    op_case("softmax_axis_negative_2pow62", helper.make_node("Softmax", ["X"], ["Y"], name="softmax", axis=-huge))
    op_case("reducesum_axes_2pow62", helper.make_node("ReduceSum", ["X", "A"], ["Y"], name="reduce"), [i64("A", [huge])])
    op_case("einsum_garbage_equation", helper.make_node("Einsum", ["X"], ["Y"], name="einsum", equation="ab,,->->>"))
    op_case("cast_to_string", helper.make_node("Cast", ["X"], ["Y"], name="cast", to=TensorProto.STRING))
    op_case("cast_to_unknown_type", helper.make_node("Cast", ["X"], ["Y"], name="cast", to=77))
    loop_body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"], name="body_cond"),
                                   helper.make_node("Identity", ["i"], ["scan"], name="body_scan")], "body",
                                  [_vi("i", [], TensorProto.INT64), _vi("c", [], TensorProto.BOOL)],
                                  [_vi("c_out", [], TensorProto.BOOL), _vi("scan", [], TensorProto.INT64)])
    op_case("loop_without_bounds", helper.make_node("Loop", ["", ""], ["Y"], name="loop", body=loop_body))

    # -- not a model at all -----------------------------------------------------------------------------------
    for id, data in [("empty_file", b""), ("text_file", b"this is not an onnx model\n"),
                     ("zeros", b"\0" * 4096), ("huge_length_prefix", b"\x3a\xff\xff\xff\xff\x0f" + b"\0" * 16)]:
        path = os.path.join(d, id + ".onnx")
        with open(path, "wb") as f:
            f.write(data)
        reason = "not a valid ONNX model|no graph|IR version"
        _case(cases, id + "/run", ["run", path], names=[path], reason=reason)
        _case(cases, id + "/info", ["info", path], names=[path], reason=reason)
    missing = os.path.join(d, "does_not_exist.onnx")
    _case(cases, "model_missing/run", ["run", missing], names=[missing], reason="cannot open")
    _case(cases, "model_missing/info", ["info", missing], names=[missing], reason="cannot open")
    _case(cases, "model_is_directory/run", ["run", d], names=[d], reason="directory|read failed|cannot")

    # -- CLI misuse against a valid model -------------------------------------------------------------------------
    good = _save(_model([helper.make_node("Relu", ["X"], ["Y"], name="relu0")], [_vi("X", [1, 4])],
                        [_vi("Y", [1, 4])]), os.path.join(d, "good.onnx"))
    good2 = _save(_model([helper.make_node("Add", ["A", "B"], ["Y"], name="add0")],
                         [_vi("A", [1, 4]), _vi("B", [1, 4])], [_vi("Y", [1, 4])]), os.path.join(d, "good2.onnx"))
    good_sym = _save(_model([helper.make_node("Relu", ["X"], ["Y"], name="relu0")], [_vi("X", ["batch", 4])],
                            [_vi("Y", ["batch", 4])]), os.path.join(d, "good_symbolic.onnx"))
    x_ok = _write_npy(os.path.join(d, "x_ok.npy"), np.ones((1, 4), np.float32))
    x_i64 = _write_npy(os.path.join(d, "x_int64.npy"), np.ones((1, 4), np.int64))
    x_shape = _write_npy(os.path.join(d, "x_1x5.npy"), np.ones((1, 5), np.float32))
    x_rank = _write_npy(os.path.join(d, "x_4.npy"), np.ones((4,), np.float32))
    x_c64 = _write_npy(os.path.join(d, "x_complex.npy"), np.ones((1, 4), np.complex64))
    data16 = np.ones((1, 4), np.float32).tobytes()
    corrupt = {
        "npy_garbage.npy": b"definitely not numpy",
        "npy_truncated.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, 4)", data16[:-3]),
        "npy_header_truncated.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, 4)", b"")[:20],
        "npy_huge_shape.npy": _npy(f"'descr': '<f4', 'fortran_order': False, 'shape': ({2**40}, {2**40})", data16),
        "npy_big_shape.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, 999999999999)", data16),
        "npy_dim_too_long.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, " + "9" * 30 + ")", data16),
        "npy_negative_shape.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4)", data16),
        "npy_no_shape.npy": _npy("'descr': '<f4', 'fortran_order': False", data16),
        "npy_header_len_huge.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, 4)", data16,
                                        header_len=0xFFFF),
        "npy_v2_header_len_huge.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, 4)", data16,
                                           version=2, header_len=0xFFFFFFFF),
        "npy_version_9.npy": _npy("'descr': '<f4', 'fortran_order': False, 'shape': (1, 4)", data16, version=9),
        "npy_fortran.npy": _npy("'descr': '<f4', 'fortran_order': True, 'shape': (1, 4)", data16),
        "npy_only_magic.npy": b"\x93NUMPY",
        "pb_garbage.pb": b"\xff\xff\xff\xff\xff\xff",
    }
    for name, data in corrupt.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    missing_npy = os.path.join(d, "no_such_input.npy")

    def misuse(id, args, names, reason):
        _case(cases, "cli/" + id, ["run", *args], names=names, reason=reason)

    _case(cases, "cli/good_model_runs", ["run", good, "--input", x_ok], expect="ok")
    misuse("wrong_dtype", [good, "--input", x_i64], [good, "'X'"], "float32.*int64")
    misuse("wrong_shape", [good, "--input", x_shape], [good, "'X'"], "dim 1 must be 4")
    misuse("wrong_rank", [good, "--input", x_rank], [good, "'X'"], "rank")
    misuse("too_many_inputs", [good, "--input", x_ok, "--input", x_ok], [good, x_ok], "only 1 input")
    misuse("unknown_input_name", [good, "--input", "nope=" + x_ok], [good, "'nope'"], "not an input")
    misuse("input_given_twice", [good2, "--input", "A=" + x_ok, "--input", "A=" + x_ok], [good2, "'A'"],
           "more than once")
    misuse("input_positional_and_named", [good2, "--input", x_ok, "--input", "A=" + x_ok], [good2, "'A'"],
           "more than once")
    misuse("missing_input_file", [good, "--input", missing_npy], [missing_npy], "cannot open|No such")
    os.makedirs(os.path.join(d, "a_directory.npy"), exist_ok=True)
    misuse("input_is_directory", [good, "--input", os.path.join(d, "a_directory.npy")], ["a_directory.npy"],
           "directory")
    misuse("unknown_extension", [good, "--input", os.path.join(d, "good.onnx")], ["good.onnx"], "unknown tensor file")
    misuse("complex_npy", [good, "--input", x_c64], [x_c64], "not supported")
    for name in corrupt:
        misuse(name.replace(".", "_"), [good, "--input", os.path.join(d, name)], [name],
               "not a readable|not a valid|unknown|truncated|too large|holds|exceeds|overflow|Fortran|magic|version")
    misuse("shape_2pow40", [good_sym, "--shape", f"X={2**40}x4"], [good_sym, "'X'"], "exceeds|limit")
    misuse("shape_overflow", [good_sym, "--shape", "X=999999999999999x999999999999999"], [good_sym, "'X'"],
           "overflow|exceeds")
    misuse("shape_malformed", [good_sym, "--shape", "X=1x-4"], ["--shape"], "not a dimension")
    misuse("shape_wrong_for_fixed", [good, "--shape", "X=2x4"], [good, "'X'"], "dim 0 must be 1")
    missing_model = os.path.join(d, "no_such_model.onnx")
    _case(cases, "cli/bench_good_model", ["bench", good, "--iters", "2"], expect="ok")
    _case(cases, "cli/bench_missing_model", ["bench", missing_model], names=[missing_model], reason="cannot open|No such")
    _case(cases, "cli/bench_wrong_shape", ["bench", good, "--shape", "X=2x4"], names=[good, "'X'"],
          reason="dim 0 must be 1")
    _case(cases, "cli/bench_batch_vs_input_file", ["bench", good_sym, "--batch", "2", "--input", x_ok],
          names=[good_sym, "'X'"], reason="batch")
    _case(cases, "cli/info_compiled_plan", ["info", good, "--optimized", "--memory"], expect="ok")

    # -- the explain, project and quantize commands ----------------------------------------------------------------
    no_dir = os.path.join(d, "no_such_dir")
    mm = _save(_model([helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm0")], [_vi("X", [1, 4])],
                      [_vi("Y", [1, 4])], [numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")]),
               os.path.join(d, "good_matmul.onnx"))
    _case(cases, "cli/project_catalog_device", ["project", good, "--device", "a100"], expect="ok")
    _case(cases, "cli/project_unknown_device", ["project", good, "--device", "nope"], names=["'nope'"],
          reason="unknown device")
    _case(cases, "cli/project_compare_unknown", ["project", good, "--compare", "a100,nope"], names=["'nope'"],
          reason="unknown device")
    _case(cases, "cli/project_efficiency_above_1", ["project", good, "--matrix-efficiency", "fp32=1.5"],
          names=["fp32=1.5"], reason="PRECISION=FRACTION")
    _case(cases, "cli/profile_html_unwritable", ["profile", good, "--html", os.path.join(no_dir, "p.html")],
          names=[os.path.join(no_dir, "p.html")], reason="cannot write")
    _case(cases, "cli/run_profile_unwritable", ["run", good, "--profile", os.path.join(no_dir, "t.json")],
          names=[os.path.join(no_dir, "t.json")], reason="cannot write")
    _case(cases, "cli/quantize_needs_calibration", ["quantize", mm, "-o", os.path.join(d, "q.onnx")],
          names=["--calib"], reason="calibration set")
    _case(cases, "cli/quantize_missing_calib", ["quantize", mm, "-o", os.path.join(d, "q.onnx"), "--calib",
                                                os.path.join(d, "no_calib")],
          names=[os.path.join(d, "no_calib")], reason="no such")
    _case(cases, "cli/quantize_unwritable", ["quantize", mm, "-o", os.path.join(no_dir, "q.onnx"), "--precision",
                                             "fp16"], names=[os.path.join(no_dir, "q.onnx")], reason="cannot write")
    _case(cases, "cli/quantize_fp16_ok", ["quantize", mm, "-o", os.path.join(d, "q16.onnx"), "--precision", "fp16"],
          expect="ok")
    _case(cases, "cli/eval_missing_data", ["eval", mm, "--data", os.path.join(d, "no_data"), "--labels", x_ok],
          names=[os.path.join(d, "no_data")], reason="no such")
    _case(cases, "cli/calibrate_missing_data", ["calibrate", mm, "--calib", os.path.join(d, "no_data")],
          names=[os.path.join(d, "no_data")], reason="no such")
    _case(cases, "cli/device_probe_unwritable", ["device", "probe", "--seconds", "0.01", "-o",
                                                 os.path.join(no_dir, "d.json")],
          names=[os.path.join(no_dir, "d.json")], reason="cannot write")

    # -- device files: `infera device show FILE` ------------------------------------------------------------------
    def device_case(id, text, reason):
        path = os.path.join(d, "device_" + id + ".json")
        with open(path, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        _case(cases, "device/" + id, ["device", "show", path], names=[path], reason=reason)

    peak = '"peak_ops": {"fp32": {"value": 10, "unit": "TFLOP/s"}}'
    device_case("malformed_json", '{"kind": "gpu", ', "not valid JSON")
    device_case("empty_file", "", "not valid JSON")
    device_case("control_chars", b'{"kind": "\x01\x1b[2J', "not valid JSON")
    device_case("not_an_object", "[1, 2]", "expected an object")
    device_case("peak_is_string", '{"kind": "gpu", "peak_ops": {"fp32": "fast"}}', "peak_ops.fp32.*expected a number")
    device_case("negative_bandwidth", '{"kind": "gpu", ' + peak + ', "memory_bandwidth": {"value": -5, "unit": "GB/s"}}',
                "memory_bandwidth.value.*negative")
    device_case("wrong_unit", '{"kind": "gpu", "peak_ops": {"fp32": {"value": 10, "unit": "GB"}}}',
                "peak_ops.fp32.unit.*not a unit")
    device_case("unknown_field", '{"kind": "gpu", ' + peak + ', "memroy_bytes": 5}', "memroy_bytes.*unknown field")
    device_case("no_peak", '{"kind": "gpu"}', "no known peak")
    device_case("huge_cores", '{"kind": "gpu", ' + peak + ', "cores": 1e300}', "cores.*whole number")
    missing_device = os.path.join(d, "no_such_device.json")
    _case(cases, "device/missing_file", ["device", "show", missing_device], names=[missing_device],
          reason="unknown device")
    _case(cases, "device/directory", ["device", "show", d], names=[d], reason="directory")
    _case(cases, "device/catalog_show", ["device", "show", "tpu-v4"], expect="ok")
    _case(cases, "device/list", ["device", "list"], expect="ok")
    return cases


# ---------------------------------------------------------------------------------------------------------------
# corrupted copies of real models

TRUNCATIONS = [("1byte", lambda n: 1), ("10pct", lambda n: n // 10), ("50pct", lambda n: n // 2),
               ("99pct", lambda n: n * 99 // 100), ("minus1", lambda n: n - 1)]
FLIP_SEEDS = [1, 2, 3, 4, 5]
FLIPS = 10


def _parses(data):
    try:
        onnx.ModelProto().ParseFromString(data)
        return True
    except Exception:  # google.protobuf.message.DecodeError, or RuntimeWarning-like errors from the C++ parser
        return False


def make_corrupted(out_dir, model_paths, seeds=FLIP_SEEDS):
    """Writes truncated and bit-flipped copies of each model; returns the cases (`run` and `info` for each)."""
    d = os.path.join(out_dir, "corrupted")
    os.makedirs(d, exist_ok=True)
    cases = []
    for src in model_paths:
        data = open(src, "rb").read()
        stem = os.path.splitext(os.path.basename(src))[0]
        variants = []
        for label, cut in TRUNCATIONS:
            variants.append((f"trunc_{label}", data[:cut(len(data))]))
        for seed in seeds:
            rng = random.Random(f"{stem}:{seed}")
            b = bytearray(data)
            for _ in range(FLIPS):
                bit = rng.randrange(len(b) * 8)
                b[bit // 8] ^= 1 << (bit % 8)
            variants.append((f"flip_s{seed}", bytes(b)))
        for label, blob in variants:
            path = os.path.join(d, f"{stem}.{label}.onnx")
            with open(path, "wb") as f:
                f.write(blob)
            parses = _parses(blob)
            # A truncated file can still parse (cut on a field boundary) and a flipped bit can land in weights or a
            # name; then the model may be valid and exit 0 is acceptable. What never is: a crash, a hang, an OOM,
            # or a failure without a proper one-line message naming the file.
            expect = "error_or_ok" if parses else "error"
            reason = None if parses else "not a valid ONNX model"
            for cmd in ("run", "info"):
                _case(cases, f"{stem}/{label}/{cmd}", [cmd, path], expect=expect, names=[path], reason=reason,
                      parses=parses)
    return cases


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = make_crafted(out) + make_corrupted(out, sys.argv[2:])
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print(f"wrote {len(cases)} cases to {out}/cases.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
