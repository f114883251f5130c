#!/bin/bash
# Runs the model-loader fuzzer for a bounded time and fails on any finding.
#   tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS
# BUILD_DIR was configured with  CC=clang CXX=clang++ cmake -DINFERA_FUZZ=ON -DINFERA_TESTS=OFF ...
# SECONDS = 0 only replays the seed corpus (a smoke test). The seed corpus is assembled here from the demo model,
# a selection of ONNX node-test models (Debian libonnx-testdata) and, when present, small models from ../shared;
# the growing corpus and any crash/timeout/OOM reproducers live in BUILD_DIR/fuzz-work/.
# Reproduce a finding:  BUILD_DIR/tests/fuzz/fuzz_model_loader BUILD_DIR/fuzz-work/artifacts/crash-...
set -euo pipefail

build=$(cd "${1:?usage: run_fuzz.sh BUILD_DIR SECONDS}" && pwd)
seconds=${2:-120}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fuzzer=$build/tests/fuzz/fuzz_model_loader
[ -x "$fuzzer" ] || { echo "run_fuzz.sh: $fuzzer not built (configure with -DINFERA_FUZZ=ON)" >&2; exit 1; }

work=$build/fuzz-work
seeds=$work/seeds
mkdir -p "$seeds" "$work/corpus" "$work/artifacts"

cp "$repo/models/demo/digits_cnn.onnx" "$seeds/"
testdata=/usr/share/libonnx-testdata/data/node
# Shape "glue" (Shape/Gather/Concat/Reshape/...) that static analysis folds, control flow with subgraphs, and
# ops with rich attributes, so that mutations reach the shape rules and kernels.
for t in test_shape test_size test_gather_0 test_gather_negative_indices test_concat_2d_axis_0 \
         test_reshape_reordered_all_dims test_reshape_negative_extended_dims test_reshape_zero_and_negative_dim \
         test_reshape_allowzero_reordered test_unsqueeze_axis_0 test_squeeze test_flatten_axis2 test_transpose_all_permutations_0 \
         test_slice test_slice_negative_axes test_slice_start_out_of_bounds test_constantofshape_int_zeros \
         test_constantofshape_float_ones test_expand_dim_changed test_tile test_range_float_type_positive_delta \
         test_split_equal_parts_1d test_split_variable_parts_2d test_cast_FLOAT_to_FLOAT16 test_where_example \
         test_if test_loop11 test_loop13_seq test_scan9_sum test_nonzero_example test_top_k test_onehot_with_axis \
         test_conv_with_strides_and_asymmetric_padding test_convtranspose_pads test_maxpool_2d_pads \
         test_averagepool_2d_ceil test_globalaveragepool test_gemm_all_attributes test_matmul_2d test_einsum_batch_matmul \
         test_batchnorm_example test_layer_normalization_4d_axis0 test_softmax_axis_1 test_reduce_mean_keepdims_example \
         test_resize_upsample_sizes_nearest test_resize_downsample_scales_linear test_constant_pad test_reflect_pad test_depthtospace_crd_mode_example \
         test_qlinearconv test_qlinearmatmul_2D test_quantizelinear test_dequantizelinear test_gathernd_example_int32 \
         test_scatter_elements_with_axis test_cumsum_1d test_argmax_default_axis_example test_clip_default_inbounds \
         test_unique_sorted_with_axis test_compress_0 test_eyelike_with_dtype test_tril test_mod_mixed_sign_int64; do
  if [ -f "$testdata/$t/model.onnx" ]; then cp "$testdata/$t/model.onnx" "$seeds/$t.onnx"; fi
done
for m in mnist-8-opt kws-dscnn-int8 resnet8-cifar10-int8; do
  if [ -f "$repo/../shared/models/$m.onnx" ]; then cp "$repo/../shared/models/$m.onnx" "$seeds/"; fi
done

# A dictionary of the words that matter in a model: every op name in the op table, and attribute and
# external-data keys; libFuzzer splices them into inputs.
dict=$work/onnx.dict
{
  grep -ho '\.name = "[A-Za-z0-9_]*"' "$repo"/src/ops/*.cpp | sed 's/.*= //' | sort -u
  for w in location offset length axis axes perm kernel_shape strides pads dilations group auto_pad value \
           then_branch else_branch body ai.onnx com.microsoft batch_size; do echo "\"$w\""; done
} > "$dict"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
# Exit status 1 on a finding (libFuzzer's default, 77, means "skipped" to ctest).
common=(-rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=30 -max_len=4000000 -dict="$dict"
        -artifact_prefix="$work/artifacts/" -print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1)

# load_from_memory resolves external data against the current directory: run in an empty one, so that what a
# mutated model can reach is always the same (nothing).
mkdir -p "$work/cwd"
cd "$work/cwd"
echo "run_fuzz.sh: $(ls "$seeds" | wc -l) seeds, $seconds s, work in $work"
if [ "$seconds" = 0 ]; then
  exec "$fuzzer" "${common[@]}" -runs=0 "$seeds"
fi
# The first directory receives new interesting inputs; the seeds are only read.
before=$(ls "$work/artifacts" | wc -l)
status=0
"$fuzzer" "${common[@]}" -max_total_time="$seconds" "$work/corpus" "$seeds" || status=$?
if [ "$status" != 0 ]; then
  echo "run_fuzz.sh: FINDING (exit $status); reproducer(s) in $work/artifacts:" >&2
  ls -t "$work/artifacts" | head -n $(( $(ls "$work/artifacts" | wc -l) - before )) | sed "s|^|  $work/artifacts/|" >&2
  exit 1
fi
echo "run_fuzz.sh: no findings in $seconds s ($(ls "$work/corpus" | wc -l) inputs in the corpus)"
